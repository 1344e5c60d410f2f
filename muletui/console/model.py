"""The console's state outside any widget: log ring buffers, message history, hints, flashes.

Fed with engine event batches (:meth:`ConsoleModel.apply`) and stack snapshots
(:meth:`ConsoleModel.observe`); widgets read it when they repaint, a few times a second.
Memory is bounded: every buffer is a ring with a fixed cap, and what falls off is counted. Traps
are spotted by :mod:`muletui.engine.traps`, message fates settled by :mod:`muletui.console.messages`.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from muletui.console.messages import MessageHistory
from muletui.engine import events
from muletui.engine.snapshot import StackSnapshot
from muletui.engine.traps import Trap, TrapSpotter

MASTER = 0  # log source id of the master and the stack root; mule N is N, worker N is -N


#: One line of the log pane: (wall, source (see MASTER), stream, text); ``stream`` is ``out``, ``err`` or
#: ``sys`` (the master's own). A plain tuple of plain values on purpose: CPython's garbage
#: collector stops tracking exact tuples of untracked values, so a full log (tens of thousands of
#: lines) costs a full collection nothing. As a dataclass (or a named tuple, a tuple subclass,
#: which stays tracked) each full collection under a flood took 100-180 ms, the console's worst
#: key-to-screen delays.
LogLine = tuple[float, int, str, str]
# LogLine's fields (Final, so that type checkers know each one's type)
WALL: Final = 0
MULE: Final = 1
STREAM: Final = 2
TEXT: Final = 3


class LogBuffer:
    """One ring per source (mule id, 0 for the master) plus the interleaved ring of all.

    History per mule survives its restarts (keyed by id, not pid) and view switches.
    """

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.all: deque[LogLine] = deque(maxlen=cap)
        self.sources: dict[int, deque[LogLine]] = {}
        self.dropped: dict[int | None, int] = {}  # None: the interleaved ring
        self.added: dict[int | None, int] = {}  # lines ever added per source, None: all
        self.events_lost = 0  # events the console's subscription dropped: it fell behind the stack

    def add(self, lines: Iterable[LogLine]) -> None:
        for line in lines:
            ring = self.sources.get(line[MULE])
            if ring is None:
                ring = self.sources[line[MULE]] = deque(maxlen=self.cap)
            if len(ring) == self.cap:
                self.dropped[line[MULE]] = self.dropped.get(line[MULE], 0) + 1
            if len(self.all) == self.cap:
                self.dropped[None] = self.dropped.get(None, 0) + 1
            ring.append(line)
            self.all.append(line)
            self.added[line[MULE]] = self.added.get(line[MULE], 0) + 1
            self.added[None] = self.added.get(None, 0) + 1

    def view(self, source: int | None) -> deque[LogLine]:
        """The lines of one source, or all interleaved (``None``)."""
        if source is None:
            return self.all
        return self.sources.setdefault(source, deque(maxlen=self.cap))

    def clear(self) -> None:
        self.all.clear()
        for ring in self.sources.values():
            ring.clear()


@dataclass
class Hint:
    """A trap the console noticed: explained once, then counted; ``first`` and ``wall`` are when
    it was first and last seen (epoch seconds)."""

    key: str
    text: str
    first: float
    wall: float
    count: int = 1


class ConsoleModel:
    """Everything the console shows that is not read live from the engine."""

    def __init__(self, log_cap: int = 10_000, history_cap: int = 1_000) -> None:
        self.log = LogBuffer(log_cap)
        self.messages = MessageHistory(history_cap)
        self.traps = TrapSpotter()
        self.hints: dict[str, Hint] = {}  # every trap seen, by key, in the order first seen
        self.latest_hint: Hint | None = None
        self.flashes: dict[tuple[str, int], float] = {}  # (timer kind, index) -> monotonic fire time
        self.snapshot: StackSnapshot | None = None
        self.stopped_report: dict[str, tuple[int, int]] | None = None
        self.failure: str | None = None

    # -- events ------------------------------------------------------------------------------

    def apply(self, batch: list[events.Event]) -> None:
        log_lines: list[LogLine] = []
        for event in batch:
            if isinstance(event, events.OutputLines):
                source = -event.worker_id if event.worker_id else event.mule_id
                log_lines += [(line.wall, source, event.stream, line.text) for line in event.lines]
            elif isinstance(event, events.MasterLog):
                log_lines.append((event.wall, MASTER, "sys", event.text))  # published, not applied
            elif isinstance(event, events.StackWarning):
                # muletui's own voice, as headless and --log-file show it: mule_id is whom it is about
                log_lines.append((event.wall, MASTER, "sys", f"muletui warning: {event.text}"))
            elif isinstance(event, _MESSAGE_EVENTS):
                self.messages.apply(event)
            elif isinstance(event, events.TimerFired):
                self.flashes[(event.timer_kind, event.index)] = event.t
            elif isinstance(event, events.StackStopped):
                self.messages.apply(event)
                self.stopped_report = event.left_queued
            elif isinstance(event, events.StackFailed):
                self.failure = event.reason
        if log_lines:
            self.log.add(log_lines)
        self.messages.sweep()
        for trap in self.traps.spot_events(batch):
            self.hint(trap)

    def hint(self, trap: Trap) -> None:
        """Note ``trap``: the first time it is explained, later it is counted."""
        now = time.time()
        existing = self.hints.get(trap.key)
        if existing is None:
            existing = self.hints[trap.key] = Hint(trap.key, trap.text, now, now)
        else:
            existing.count += 1
            existing.wall = now
        self.latest_hint = existing

    # -- snapshots ---------------------------------------------------------------------------

    def observe(self, snapshot: StackSnapshot, now: float | None = None) -> None:
        """A fresh snapshot, taken at ``now`` (monotonic): keep it, settle the sends its empty
        queues show were read, and look for traps only visible in state."""
        self.snapshot = snapshot
        empty = [f"mule {mule.mule_id}" for mule in snapshot.mules if not mule.queue_bytes]
        empty += [f"farm {farm.name}" for farm in snapshot.farms if not farm.queue_bytes]
        if not snapshot.shared_queue_bytes:
            empty.append("any mule")
        self.messages.queues_empty(empty, time.monotonic() if now is None else now)
        self.messages.sweep()
        for trap in self.traps.spot_snapshot(snapshot):
            self.hint(trap)


_MESSAGE_EVENTS = (events.MessageSent, events.MessageReceived, events.MessageHookRaised, events.MessageDropped)
