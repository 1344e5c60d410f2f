"""Screen snapshots of the console at 80×24 and 160×48, on a scripted stack with frozen clocks.

Regenerate only for an intended change (``pytest --snapshot-update``) and look at the SVGs.
"""

from __future__ import annotations

import time

import pytest
from harness import until
from scripted_stack import WALL, ScriptedMaster

from muletui.config.builder import build
from muletui.config.options import parse_argv
from muletui.console.app import SNAPSHOT_EVERY, MuleConsole
from muletui.console.widgets.tables import SignalTable
from muletui.engine.bus import EventBus


def scripted_app() -> MuleConsole:
    plan = build(parse_argv(["--mule=somaro.py", "--mule", "--mule=feeder.py", "--mule", "--farm", "busy:2,4"]))
    return MuleConsole(plan, clock=False, master=ScriptedMaster(EventBus()))  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def frozen_wall_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "time", lambda: WALL)


async def settle(pilot) -> None:
    """A few paints and two snapshots of the stack, counted, not timed: a busy machine paints
    less often. (The scripted stack does not change: more paints show the same screen.)"""
    app = pilot.app
    await until(pilot, lambda: app._paints > 2 * SNAPSHOT_EVERY and app.model.snapshot, what="two snapshots painted")
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_main_screen(snap_compare, size):
    assert snap_compare(scripted_app(), terminal_size=size, run_before=settle)


def test_signals_tab(snap_compare):
    async def open_signals(pilot) -> None:
        await settle(pilot)
        await pilot.press("3")
        table = pilot.app.query_one(SignalTable)
        await until(pilot, lambda: table.row_count == 3, what="the signal table painted")
        await pilot.pause()

    assert snap_compare(scripted_app(), terminal_size=(100, 30), run_before=open_signals)
