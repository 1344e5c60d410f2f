"""What keeps the console's full garbage collections short: frozen survivors, untracked log
lines, table caches of a few screens."""

from __future__ import annotations

import gc

from muletui.console.collector import SurvivorFreezer
from muletui.console.model import ConsoleModel
from muletui.engine import events


class Node:
    """A tracked object (a cycle, even), as the console's widgets are."""

    def __init__(self) -> None:
        self.me = self


def test_survivors_of_a_full_collection_are_frozen_and_thawed_now_and_then():
    freezer = SurvivorFreezer(thaw_every=3600)
    freezer.start()
    try:
        frozen = gc.get_freeze_count()
        assert frozen > 0  # what existed at start
        keep = [Node() for _ in range(100)]
        gc.collect()
        assert gc.get_freeze_count() >= frozen + len(keep)  # the survivors of the collection
        freezer._thaw_every = 0  # the next full collection thaws everything
        gc.collect()
        assert gc.get_freeze_count() == 0
        freezer._thaw_every = 3600
        gc.collect()
        assert gc.get_freeze_count() >= len(keep)
    finally:
        freezer.stop()
    assert gc.get_freeze_count() == 0
    assert freezer._on_collection not in gc.callbacks


def test_a_cycle_made_garbage_after_freezing_is_found_at_the_next_thaw():
    freezer = SurvivorFreezer(thaw_every=3600)
    freezer.start()
    try:
        node = Node()
        gc.collect()  # node survives: frozen
        assert gc.get_freeze_count() > 0
        del node  # a cycle: only a collection that sees it can free it
        freezer._thaw_every = 0
        gc.collect()  # thaws
        assert gc.collect() >= 1  # walks everything: the cycle is found
    finally:
        freezer.stop()


def test_log_lines_are_not_tracked_by_the_collector():
    model = ConsoleModel(log_cap=100)
    line = events.OutputLine(0.0, 1_795_000_000.0, "hello")
    model.apply([events.OutputLines(mule_id=1, stream="out", lines=(line,) * 50)])
    gc.collect()
    assert not any(gc.is_tracked(kept) for kept in model.log.all)
