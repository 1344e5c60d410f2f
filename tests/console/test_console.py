"""The console driven with Pilot on a real stack: mules, log, messages, signals, timers, quit."""

from __future__ import annotations

import asyncio
import functools
import gc
import re
import time
import weakref

import pytest
from conftest import wait_gone
from harness import deaf_mule, ended, files, log_texts, painted, until
from textual.command import CommandList, CommandPalette
from textual.widgets.data_table import CellDoesNotExist

from muletui.config.builder import build
from muletui.config.option_table import WORKERS_REASON
from muletui.config.options import parse_argv
from muletui.console.actions import ACTIONS
from muletui.console.app import MuleConsole
from muletui.console.commands import StackCommands
from muletui.console.confirm import ConfirmScreen
from muletui.console.model import TEXT, ConsoleModel
from muletui.console.model import WALL as WALL_AT
from muletui.console.widgets.log_view import LogView
from muletui.console.widgets.tables import MessageTable, MuleTable, SignalTable, TimerTable, countdown
from muletui.engine import events
from muletui.engine.lifecycle import SlotState


async def test_messages_signals_timers_and_file_monitors(console, tmp_path):
    app_py, echo, watched = files(tmp_path)
    app = console(f"--wsgi-file={app_py}", f"--mule={echo}", "--mule")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.model.snapshot and all(m.pid for m in app.model.snapshot.mules), what="mules")
        table = app.query_one(MuleTable)
        assert table.row_count == 2 and table.selected_mule() == 1
        # send a message from the composer
        await pilot.press("m")
        await pilot.press(*"hello")
        await pilot.press("enter")
        await until(pilot, lambda: "echo got b'hello'" in log_texts(app), what="the echo")
        assert "5 bytes → mule 1: queued" in str(app.query_one("#msg-result").render())
        await until(pilot, lambda: any(r.kind == "received" for r in app.model.messages.rows), what="history")
        # raise a signal by number, with its preview
        table.focus()
        await pilot.press("g")
        await pilot.press("1", "7")
        assert "signal 17 → mule2 (on17)" in str(app.query_one("#sig-preview").render())
        await pilot.press("enter")
        await until(pilot, lambda: "handled signal 17 on mule 2" in log_texts(app), what="the handler")
        await until(pilot, lambda: app.query_one(SignalTable).row_count == 3, what="the signal table")
        # the timer and the file monitor
        table.focus()
        await pilot.press("4")
        assert app.query_one("#tabs").active == "tab-timers"
        await until(pilot, lambda: "tick" in log_texts(app), what="the timer")
        (watched / "new").write_text("x")
        await until(pilot, lambda: "fs" in log_texts(app), what="the file monitor")
        timers = app.query_one(TimerTable)

        def monitor_fires() -> int:
            try:
                return int(timers.get_cell("file_monitor1", "fires"))
            except (CellDoesNotExist, ValueError):
                return 0

        await until(pilot, lambda: timers.row_count == 2 and monitor_fires() >= 1, what="the timers table")
        assert timers.row_count == 2
        assert int(timers.get_cell("file_monitor1", "fires")) >= 1


async def test_restart_kill_and_states(console, tmp_path):
    _app_py, echo, _watched = files(tmp_path)
    app = console(f"--mule={echo}", "--mule")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.model.snapshot and all(m.pid for m in app.model.snapshot.mules), what="mules")
        first = app.master.mules[1].pid
        await pilot.press("k")  # asks first: any other key says no
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("x")
        await pilot.pause(0.5)
        assert app.master.mules[1].pid == first and app.screen is app.screen_stack[0]
        await pilot.press("k", "k")
        await until(pilot, lambda: app.master.mules[1].pid not in (0, first), what="respawn after kill")
        assert any("OOOPS mule 1" in text for text in log_texts(app))
        second = app.master.mules[1].pid
        await pilot.press("s", "y")
        await until(pilot, lambda: app.master.mules[1].state is SlotState.STOPPED, what="STOPPED")
        await until(pilot, lambda: str(app.query_one(MuleTable).get_cell("1", "state")) == "STOPPED", what="the row")
        assert str(app.query_one(MuleTable).get_cell("1", "state")) == "STOPPED"
        assert str(app.query_one(MuleTable).get_cell("1", "activity")) == "stopped: r starts it"
        await pilot.press("r")
        await until(pilot, lambda: app.master.mules[1].pid not in (0, second), what="restart")
        await until(pilot, lambda: "RUNNING" in str(app.query_one(MuleTable).get_cell("1", "state")), what="row")


async def test_log_filter_source_and_follow(console, tmp_path):
    chatty = tmp_path / "chatty.py"
    chatty.write_text("import time\nfor i in range(400):\n    print('line', i, 'even' if i % 2 == 0 else 'odd', flush=True)\ntime.sleep(60)\n")
    app = console(f"--mule={chatty}", "--mule")
    async with app.run_test(size=(100, 30)) as pilot:
        log = app.query_one(LogView)
        await until(pilot, lambda: "line 399 odd" in log.texts(), what="all lines")
        await pilot.press("slash")
        await pilot.press(*"even", "enter")
        await until(pilot, lambda: log.line_count == 200, what="the filtered log")
        assert log.line_count == 200 and all("even" in text for text in log.texts())
        assert "filter: 'even'" in log.border_subtitle
        await pilot.press("slash")
        await pilot.press("ctrl+a", "ctrl+k", "enter")  # empty filter
        await until(pilot, lambda: log.line_count > 400, what="the whole log")
        # only mule 1, then scroll up: follow pauses and counts new lines
        await pilot.press("a")
        await until(pilot, lambda: log.source == 1 and log.line_count == 400, what="mule 1's lines")
        log.focus()
        log.scroll_to(y=0, animate=False)
        await until(pilot, lambda: not log.follow, what="follow paused")
        new = (time.time(), 1, "out", "more from mule 1")
        app.model.log.add([new] * 3)  # stand-in for new output of mule 1
        await until(pilot, lambda: "+3 new lines" in log.border_subtitle, what="the count of new lines")
        await pilot.press("end")
        await until(pilot, lambda: log.follow, what="follow again")


async def test_quitting_stops_the_stack_and_reports_what_was_left(console, tmp_path):
    app = console(f"--mule={deaf_mule(tmp_path)}")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.master.mules[1].pid, what="mule 1")
        root = app.master.root_pid
        for _ in range(3):
            app.master.send_message(b"never read", 1)
        app.query_one(MuleTable).focus()
        await pilot.press("q")
        await ended(app)
    assert app.return_value == {"mule 1": (3, 30)}
    assert wait_gone([root]) == []


async def test_hint_for_signals_piling_up(console, tmp_path):
    _app_py, echo, _watched = files(tmp_path)
    app_py = tmp_path / "sig.py"
    app_py.write_text("import uwsgi\nuwsgi.register_signal(30, 'mule1', print)\n")
    app = console(f"--wsgi-file={app_py}", f"--mule={echo}")
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.model.snapshot and app.model.snapshot.mules[0].activity.name == "WAITING_MESSAGE", what="waiting")
        for _ in range(3):
            app.master.raise_signal(30)
        await until(pilot, lambda: "deaf:1" in app.model.hints, what="the hint")
        assert "signals=True" in str(app.query_one("#hint").render())


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
async def test_every_tab_and_help_render_at_small_and_large_sizes(console, tmp_path, size):
    _app_py, echo, _watched = files(tmp_path)
    app = console(f"--mule={echo}", "--mules", "3", "--farm", "f:2,3", "--locks", "1")
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: app.model.snapshot is not None, what="a snapshot")
        for tab in ("tab-messages", "tab-signals", "tab-timers", "tab-locks", "tab-log"):
            app.query_one("#tabs").active = tab
            await painted(pilot)
        await pilot.resize_terminal(size[0] // 2 + 20, size[1])
        await painted(pilot)
        app.theme = "textual-light"
        await painted(pilot)
        assert app.current_theme.dark is False
        await pilot.press("question_mark")
        await until(pilot, lambda: app.screen.__class__.__name__ == "HelpScreen", what="the help")
        await painted(pilot)
        await pilot.press("escape")
        await until(pilot, lambda: app.screen.__class__.__name__ != "HelpScreen", what="the help gone")


async def test_an_ended_console_can_be_collected(tmp_path):
    """The app freezes what exists at start out of full collections; once it ends it thaws them,
    or every console run in one process (tests, benchmarks) would keep its whole widget tree."""
    plan = build(parse_argv([f"--mule={deaf_mule(tmp_path)}"]))
    plan.stack.chdir = str(tmp_path)

    async def run_once() -> tuple[weakref.ref[MuleConsole], int]:
        app = MuleConsole(plan)
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.master.mules[1].pid, what="mule 1")
            pid = app.master.mules[1].pid
            await pilot.press("question_mark", "escape", "6")  # the help and the lesson tab too
            await painted(pilot)
        return weakref.ref(app), pid

    # In a task of its own: Textual's active-app context variable stays in that task's context.
    ended, pid = await asyncio.create_task(run_once())
    gc.collect()
    assert ended() is None
    assert wait_gone([pid]) == []


def _action_text(callback: object) -> str:
    """``restart_mule(1)``, ``tab('tab-log')`` or ``help``: what a palette command runs, as a binding names it."""
    assert isinstance(callback, functools.partial)
    if callback.func.__name__ == "run_action":
        return str(callback.args[0])
    args = ", ".join(repr(arg) for arg in callback.args)
    return f"{callback.func.__name__.removeprefix('action_')}({args})"


async def test_every_key_is_in_the_command_palette_and_the_palette_drives_the_stack(console, tmp_path):
    _app_py, echo, _watched = files(tmp_path)
    app = console(f"--mule={echo}", "--mule")
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.master.mules[1].pid and app.master.mules[2].pid, what="2 mules")
        commands = {_action_text(callback) for _name, callback, _help in StackCommands(app.screen)._commands()}
        bases = {text.partition("(")[0] for text in commands}
        for action in ACTIONS:
            if action.action.startswith(("leave_form", "interrupt", "select_mule")):  # keys only: Esc, Ctrl+C, ↑ ↓
                continue
            name = action.action.partition("(")[0]
            assert action.action in commands or name in bases, f"no palette command for {action.keys}: {action.action}"
        first = app.master.mules[1].pid
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette), what="the palette")
        for key in "restart 1":
            await pilot.press("space" if key == " " else key)
        await until(pilot, lambda: app.screen.query_one(CommandList).option_count > 0, what="palette hits")
        await pilot.press("enter")
        await until(pilot, lambda: app.master.mules[1].pid not in (0, first), what="mule 1 restarted")


async def test_events_the_console_could_not_keep_up_with_are_counted_on_screen(console, tmp_path):
    app = console(f"--mule={deaf_mule(tmp_path)}")
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.master.mules[1].pid, what="mule 1")
        # the start-up events are folded in: the subscription is empty
        await until(pilot, lambda: any("spawned uWSGI mule 1" in text for text in log_texts(app)), what="start-up")
        await painted(pilot)
        now = time.monotonic()
        line = events.OutputLines(mule_id=1, stream="out", lines=(events.OutputLine(now, time.time(), "x"),), t=now)
        for _ in range(100_000 + 250):  # one burst, faster than any consumer: the subscription is full
            app.bus.publish(line)
        log = app.query_one(LogView)
        lost = re.compile(r"the console fell behind: (\d+) events lost$")
        await until(pilot, lambda: lost.search(str(log.border_subtitle)), what="the lost count", timeout=30)
        assert int(lost.search(str(log.border_subtitle))[1]) >= 250  # (start-up events may add a few)


def test_countdown_text():
    assert [countdown(s) for s in (-1, 4.25, 59.9, 65, 3599, 3600 * 3 + 240, 86400 * 2 + 3600 * 3)] == [
        "0.0s", "4.2s", "59.9s", "1m05s", "59m59s", "3h04m", "2d03h",
    ]


async def test_message_history_tells_each_messages_fate(console, tmp_path):
    late = tmp_path / "late.py"
    late.write_text(
        "import os, time, uwsgi\n"
        "while not os.path.exists('read-now'):\n"
        "    time.sleep(0.02)\n"
        "while True:\n"
        "    print('late got', uwsgi.mule_get_msg(), flush=True)\n"
    )
    app = console(f"--mule={late}", "--mule")  # mule 2: signal mode, and the app sets no mule_msg_hook
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.master.mules[1].pid and app.master.mules[2].pid, what="2 mules")
        await pilot.press("2")  # the messages tab
        table = app.query_one(MessageTable)

        def fates() -> list[tuple[str, str, str]]:
            return sorted(
                (str(table.get_cell(key, "what")), str(table.get_cell(key, "message")), str(table.get_cell(key, "fate")))
                for key in table.rows
            )

        app.master.send_message(b"for the late one", 1)
        await until(pilot, lambda: fates() == [("sent", "for the late one", "queued")], what="the queued row")
        (tmp_path / "read-now").touch()  # the row is on screen: now its fate changes in place
        await until(pilot, lambda: "late got b'for the late one'" in log_texts(app), what="the read")
        app.master.send_message(b"into the void", 2)
        expected = [
            ("received", "for the late one", "received (from console)"),
            ("received", "into the void", "dropped: no hook (from console)"),
            ("sent", "for the late one", "received by mule 1"),
            ("sent", "into the void", "dropped by mule 2 (no hook)"),
        ]
        await until(pilot, lambda: fates() == expected, what="every fate settled")


async def test_ctrl_c_quits_and_stops_the_stack(console, tmp_path):
    app = console(f"--mule={deaf_mule(tmp_path)}")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.master.mules[1].pid, what="mule 1")
        app.query_one(MuleTable).focus()
        await pilot.press("ctrl+c")
        await ended(app)
    assert app.return_value == {}  # quit through action_quit: the stack was stopped, nothing was queued



def test_master_lines_keep_the_time_they_were_published():
    """Stamped when the master published them, not when the console got round to them: else a
    master line could show a later time than the mule lines after it."""
    model = ConsoleModel()
    spawned = events.MasterLog(text="spawned uWSGI mule 1 (pid: 4001)", wall=1000.0)
    said = events.OutputLines(mule_id=1, stream="out", lines=(events.OutputLine(0.0, 1000.5, "hi"),))
    model.apply([spawned, said])
    assert [(line[WALL_AT], line[TEXT]) for line in model.log.all] == [
        (1000.0, "spawned uWSGI mule 1 (pid: 4001)"), (1000.5, "hi")
    ]


async def test_the_options_warnings_reach_the_console_log(console, tmp_path):
    app = console(f"--mule={deaf_mule(tmp_path)}", "--enable-threads")
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: any("--enable-threads" in text for text in log_texts(app)), what="the warning")
    assert [t for t in log_texts(app) if "--enable-threads" in t] == [
        f"muletui warning: --enable-threads: accepted, but muletui does not emulate it ({WORKERS_REASON})"
    ]
