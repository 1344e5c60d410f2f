"""Debugging mules from the console, with Pilot against real mules: a breakpoint opens the mule's
(Pdb) pane, ``w`` shows a mule's live stacks, ``e`` evaluates in a running mule."""

from __future__ import annotations

from harness import log_texts, until
from textual.widgets import TabbedContent
from textual.widgets.data_table import CellDoesNotExist

from muletui.console.debug_pane import DebugPane
from muletui.console.inspect_screens import EvalScreen, StacksScreen
from muletui.console.widgets.tables import MuleTable

STOPPER = """
import time
count = 0
def work(n):
    total = n * 7
    breakpoint()
    return total
while True:
    count += 1
    work(count)
    print("went on after", count, flush=True)
    time.sleep(0.2)
"""

SLEEPER = """
import time
cache = {"hits": 0}
def deep_sleep():
    time.sleep(0.2)
while True:
    cache["hits"] += 1
    deep_sleep()
"""


def transcript(pane: DebugPane) -> str:
    return "\n".join(pane.transcript.lines)


def cell(app, mule_id: int, column: str) -> str:
    """What the mule table shows for ``mule_id`` in ``column`` ("" before it is painted)."""
    try:
        return str(app.query_one(MuleTable).get_cell(str(mule_id), column))
    except CellDoesNotExist:
        return ""


async def test_a_breakpoint_opens_the_mules_pdb_pane(console, tmp_path):
    (tmp_path / "stopper.py").write_text(STOPPER)
    (tmp_path / "sleeper.py").write_text(SLEEPER)
    app = console("--mule=stopper.py", "--mule=sleeper.py")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: 1 in app.debugging.panes and app.debugging.panes[1].stop is not None, what="the stop")
        pane = app.debugging.panes[1]
        tabs = app.query_one(TabbedContent)
        await until(pilot, lambda: "(Pdb) " in transcript(pane), what="the prompt")
        assert tabs.active == "tab-debug-1" and app.focused is pane.prompt
        assert pane.stop.function == "work" and pane.stop.file.endswith("stopper.py") and pane.stop.line == 7
        await until(pilot, lambda: cell(app, 1, "state") == "DEBUGGING", what="the table")
        assert cell(app, 1, "activity") == "pdb at stopper.py:7 (d)"
        await until(pilot, lambda: cell(app, 2, "state") == "RUNNING", what="mule 2 running")  # the other mule goes on
        # a command goes to the mule's pdb, its answer to the pane (not the log)
        await pilot.press(*"p total + 1", "enter")
        await until(pilot, lambda: "(Pdb) p total + 1\n8" in transcript(pane), what="the answer")
        assert not any(line.strip() == "8" for line in log_texts(app))
        # Escape leaves the pane; the mule stays stopped; d comes back
        await pilot.press("escape")
        assert tabs.active == "tab-log" and isinstance(app.focused, MuleTable)
        assert app.master.agents.stopped_at(1) is not None
        await pilot.press("d")
        assert tabs.active == "tab-debug-1" and app.focused is pane.prompt
        # ↑ brings the last command back; c lets the mule go on, into its next breakpoint
        await pilot.press("up")
        assert pane.prompt.value == "p total + 1"
        pane.prompt.value = ""
        await pilot.press("c", "enter")
        await until(pilot, lambda: "went on after 1" in log_texts(app), what="the mule going on")
        await until(pilot, lambda: pane.stop is not None and "(Pdb) c" in transcript(pane), what="the next stop")
        await pilot.press(*"p n", "enter")
        await until(pilot, lambda: transcript(pane).rstrip().endswith("2\n(Pdb)"), what="the second stop's n")


async def test_where_and_evaluate_in_a_running_mule(console, tmp_path):
    (tmp_path / "sleeper.py").write_text(SLEEPER)
    app = console("--mule=sleeper.py")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.model.snapshot and app.model.snapshot.mules[0].pid, what="the mule")
        await pilot.press("w")
        assert isinstance(app.screen, StacksScreen)
        body = app.screen.query_one("#stacks")
        await until(pilot, lambda: "deep_sleep" in str(body.render()), what="the live stack")
        shown = str(body.render())
        assert "MainThread (main thread)" in shown and "time.sleep(0.2)" in shown
        assert "muletui/stack" not in shown  # muletui's own frames are counted, not shown
        await pilot.press("i")
        assert "muletui/stack" in str(body.render())
        await pilot.press("escape")
        await pilot.press("e")
        assert isinstance(app.screen, EvalScreen)
        screen = app.screen
        await pilot.press(*"cache['hits'] > 0", "enter")
        await until(pilot, lambda: "True" in screen.transcript.lines, what="the evaluation")
        await pilot.press(*"cache['seen'] = 'yes'", "enter")
        await pilot.press(*"cache['seen']", "enter")
        await until(pilot, lambda: "'yes'" in screen.transcript.lines, what="the statement's effect")
        await pilot.press(*"1/0", "enter")
        await until(pilot, lambda: "ZeroDivisionError: division by zero" in screen.transcript.lines, what="the error")
        await pilot.press("escape")
        # the prompt comes back with its transcript and history
        await pilot.press("e")
        await until(pilot, lambda: "'yes'" in app.screen.transcript.lines, what="the transcript again")
        await pilot.press("up")
        assert app.screen.prompt.value == "1/0"


async def test_two_stopped_mules_each_get_a_pane(console, tmp_path):
    (tmp_path / "stopper.py").write_text(STOPPER)
    app = console("--mule=stopper.py", "--mule=stopper.py")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: len(app.master.agents.stops()) == 2 and len(app.debugging.panes) == 2, what="both stops")
        await until(pilot, lambda: app.focused is not None and app.focused.has_class("debug-prompt"), what="a focused prompt")
        first = app.focused
        assert isinstance(first, type(app.debugging.panes[1].prompt))
        owner = next(p for p in app.debugging.panes.values() if p.prompt is first)
        other = next(p for p in app.debugging.panes.values() if p is not owner)
        await pilot.press(*"p count", "enter")  # goes to the focused pane's mule only
        await until(pilot, lambda: "(Pdb) p count\n1" in transcript(owner), what="the answer")
        assert "p count" not in transcript(other)
        await pilot.press("escape")
        app.query_one(MuleTable).move_cursor(row=other.mule_id - 1)
        await pilot.press("d")
        assert app.focused is other.prompt


async def test_quitting_while_a_mule_is_stopped_stops_the_stack(console, tmp_path):
    (tmp_path / "stopper.py").write_text(STOPPER)
    app = console("--mule=stopper.py")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: 1 in app.debugging.panes and app.focused is app.debugging.panes[1].prompt,
                    what="the pane")
        # Pilot's press waits for animations to end; one cut short by the quit (the tab underline
        # sliding to the new pane) would never end. A person's Ctrl+C has no such wait.
        await pilot.wait_for_scheduled_animations()
        await pilot.press("ctrl+c")
    # the console fixture asserts that no mule outlived the console


FAILS_ON_MESSAGE = """
import uwsgi
print("ready", flush=True)
order = uwsgi.mule_get_msg().decode()
raise RuntimeError(order)
"""


async def test_d_turns_post_mortem_on_and_a_crash_opens_its_pane(console, tmp_path):
    (tmp_path / "fails.py").write_text(FAILS_ON_MESSAGE)
    app = console("--mule=fails.py")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: "ready" in log_texts(app), what="the mule")
        await pilot.press("D")
        await app.master.agents.stacks(1)  # the agent answers in order: the toggle is taken before this
        app.master.send_message(b"boom", 1)
        await until(pilot, lambda: 1 in app.debugging.panes and app.debugging.panes[1].stop is not None, what="post-mortem")
        pane = app.debugging.panes[1]
        assert pane.stop.post_mortem and pane.stop.function == "<module>"
        assert app.focused is pane.prompt
        await until(pilot, lambda: "RuntimeError: boom" in log_texts(app), what="the traceback in the log")
        await pilot.press(*"p order", "enter")
        await until(pilot, lambda: "(Pdb) p order\n'boom'" in transcript(pane), what="p order")
        await pilot.press("c", "enter")
        await until(pilot, lambda: "ended: exit 1" in transcript(pane), what="the mule's exit")
        await until(pilot, lambda: log_texts(app).count("ready") == 2, what="the respawn")
