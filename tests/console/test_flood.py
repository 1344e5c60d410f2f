"""The console under an output flood (SPEC §4, §6): keys answered, memory bounded, no line lost.

Three programmed mules print ~80-character lines, 500 per write, as fast as the master reads
them, until the test creates the file ``stop``; each mule then prints ``flood mule N done
COUNT`` and parks. The console keeps 2,000 lines per ring, so nearly every line falls off, and
each one that does must still be counted.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import wait_gone

from muletui.config.builder import build
from muletui.config.options import parse_argv
from muletui.console.app import MuleConsole
from muletui.console.model import TEXT
from muletui.console.widgets.log_view import LogView
from muletui.engine import events

MULES = 3
CAP = 2_000
AT_LEAST = 200_000  # lines the console must ingest before the flood is stopped
KEY_BOUND = 2.0  # seconds: a loaded CI box's bound; bench/console.py measures SPEC's 100 ms
PAD = "." * 56

FLOOD = f"""
import os, sys, uwsgi

me, write, sent = uwsgi.mule_id(), sys.stdout.write, 0
while not os.path.exists("stop"):
    write("".join([f"flood mule {{me}} line {{i:07d}} {PAD}\\n" for i in range(sent, sent + 500)]))
    sent += 500
print(f"flood mule {{me}} done {{sent}}", flush=True)
while True:  # a programmed mule that returns is respawned
    uwsgi.mule_get_msg()
"""

DONE = re.compile(r"flood mule (\d+) done (\d+)")
STAMPED = re.compile(r"\d\d:\d\d:\d\d\.\d{3} mule ")  # a visible row with its timestamp


@pytest.fixture
def flood_console(tmp_path: Path):
    """A console with a 2,000-line cap on a stack of flooding mules; no mule may outlive it."""
    pids: list[int] = []
    (tmp_path / "flood.py").write_text(FLOOD)
    plan = build(parse_argv([f"--mule={tmp_path / 'flood.py'}"] * MULES))
    plan.stack.chdir = str(tmp_path)
    app = MuleConsole(plan, log_cap=CAP)
    app.bus.add_sink(lambda e: pids.append(e.pid) if isinstance(e, events.MuleSpawned) else None)
    yield app
    assert wait_gone(pids) == [], "a mule outlived the console"


class Bounds:
    """Checks, each time it is called, that no ring and not the log pane holds more than the cap."""

    def __init__(self, app: MuleConsole) -> None:
        self.app = app
        self.checks = 0

    def __call__(self) -> None:
        log = self.app.model.log
        sizes = {"all": len(log.all)} | {f"mule {m}": len(ring) for m, ring in log.sources.items()}
        sizes["log pane"] = self.app.query_one(LogView).line_count
        assert max(sizes.values()) <= CAP, f"a buffer outgrew its cap of {CAP}: {sizes}"
        self.checks += 1


async def until(
    pilot, predicate: Callable[[], object], check: Callable[[], None], timeout: float, what: str
) -> None:
    """Poll ``predicate`` every 10 ms, checking the bounds each time."""
    deadline = time.monotonic() + timeout
    while True:
        check()
        if predicate():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await pilot.pause(0.01)


async def answered(app: MuleConsole, key: str, effect: Callable[[], object], timeout: float = 10.0) -> float:
    """Seconds from a key press to its effect, polled every 5 ms.

    ``simulate_key`` posts the key as the terminal driver does. ``pilot.press`` cannot measure
    this: it also waits for the process to go idle (up to 1 s, twice per key), which a flood
    never lets it do.
    """
    started = time.monotonic()
    app.simulate_key(key)
    while not effect():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"key {key!r} had no effect after {timeout} s")
        await asyncio.sleep(0.005)
    return time.monotonic() - started


def first_row(log: LogView) -> str:
    return log.render_line(0).text


async def test_a_flood_keeps_keys_answered_memory_bounded_and_every_line_counted(flood_console, tmp_path):
    app = flood_console
    model = app.model.log
    async with app.run_test(size=(120, 40)) as pilot:
        check = Bounds(app)
        log = app.query_one(LogView)
        tabs = app.query_one("#tabs")
        await until(pilot, lambda: model.added.get(None, 0) > 3 * CAP, check, 15, "the flood")

        # (a) keys take effect while the flood runs: tabs, and the timestamps on the visible rows
        before = model.added[None]
        keys = [
            ("2", lambda: tabs.active == "tab-messages"),
            ("1", lambda: tabs.active == "tab-log"),
            ("t", lambda: not log.show_time and first_row(log).startswith("mule ")),
            ("t", lambda: log.show_time and STAMPED.match(first_row(log))),
        ]
        latency: list[float] = []
        for key, effect in keys * 3:
            latency.append(await answered(app, key, effect))
            check()
        during = model.added[None] - before
        assert max(latency) < KEY_BOUND, f"keys answered too slowly under the flood: {latency} s"
        assert during > CAP, f"only {during} lines arrived while keys were measured: no flood to test under"

        # (b) the pane keeps following the tail and shows what fell off
        await until(pilot, lambda: model.added[None] >= AT_LEAST, check, 15, f"{AT_LEAST} lines ingested")
        shown = re.search(r"dropped (\d+) lines", log.border_subtitle or "")
        assert shown and 0 < int(shown[1]) <= model.dropped[None], log.border_subtitle
        assert log.follow and log.line_count == CAP

        # (c) stop the flood: every line printed was counted, and each mule's tail is intact
        (tmp_path / "stop").touch()
        done: dict[int, int] = {}

        def all_done() -> bool:
            for line in list(model.all):
                if match := DONE.fullmatch(line[TEXT]):
                    done[int(match[1])] = int(match[2])
            return len(done) == MULES

        await until(pilot, all_done, check, 15, "every mule's 'done' line")
        printed = sum(done.values()) + MULES  # the 'done' lines too
        counted = sum(model.added.get(m, 0) for m in range(1, MULES + 1))
        assert counted == printed, f"the mules printed {printed} lines, the console counted {counted}"
        assert model.added[None] == counted + model.added.get(0, 0)  # + the master's own lines
        assert model.dropped[None] == model.added[None] - len(model.all) > 0
        for mule_id, count in done.items():
            ring = model.sources[mule_id]
            assert model.dropped[mule_id] == count + 1 - len(ring) > 0
            tail = [f"flood mule {mule_id} line {i:07d} {PAD}" for i in range(count - CAP + 1, count)]
            assert [line[TEXT] for line in ring][:-1] == tail, f"mule {mule_id}'s tail lost or reordered lines"
        final = f"dropped {model.dropped[None]} lines"
        await until(pilot, lambda: log.border_subtitle == final, check, 5, f"the subtitle {final!r}")
        assert check.checks > 10

        await pilot.press("q")  # the console's own way out: painter stopped, then the stack
        await until(pilot, lambda: app.return_value is not None, lambda: None, 10, "the console to quit")
    assert app.return_value == {}


async def test_leaving_the_console_mid_flood_does_not_crash(flood_console):
    """Leaving ``run_test`` mid-flood, as ``App.exit`` does, neither crashes nor leaves a mule.

    The screens are torn down while the paint timer may still tick: before 7dbb8ab, ``_paint``
    raised ``NoMatches`` here every time.
    """
    app = flood_console
    async with app.run_test(size=(120, 40)) as pilot:
        check = Bounds(app)
        await until(pilot, lambda: app.model.log.added.get(None, 0) > 3 * CAP, check, 15, "the flood")
