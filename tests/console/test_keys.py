"""Focus and keys as a person meets them: Escape always leaves a form, letters typed in a form
never act on a mule, destructive keys ask first, and a burst of keys loses none."""

from __future__ import annotations

from harness import ECHO, until
from textual import events
from textual.widgets import Checkbox, Input, Label, Select
from textual.widgets._footer import FooterKey

from muletui.console.actions import ACTIONS
from muletui.console.confirm import ConfirmScreen
from muletui.console.help import HelpScreen, keys_table
from muletui.console.model import TEXT
from muletui.console.widgets.tables import MuleTable
from muletui.engine import events as engine_events


async def two_mules(console, tmp_path, pilot) -> None:
    app = pilot.app
    await until(pilot, lambda: app.model.snapshot and all(m.pid for m in app.model.snapshot.mules), what="2 mules")


def echo_stack(console, tmp_path):
    (tmp_path / "echo.py").write_text(ECHO)
    app = console("--mule=echo.py", "--mule=echo.py")
    sent: list[engine_events.MessageSent] = []
    app.bus.add_sink(lambda e: sent.append(e) if isinstance(e, engine_events.MessageSent) else None)
    return app, sent


def footer_keys(app) -> set[str]:
    """The keys the footer shows right now."""
    return {binding.key for (_node, binding, enabled, _tip) in app.active_bindings.values() if binding.show and enabled}


async def test_escape_leaves_every_form_for_the_mule_table(console, tmp_path):
    app, _sent = echo_stack(console, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await two_mules(console, tmp_path, pilot)
        for key, box in (("m", "#msg-text"), ("g", "#sig-number"), ("slash", "#filter")):
            await pilot.press(key)
            assert app.focused is app.query_one(box, Input), key
            await pilot.press("q", "1")  # typed (the signal box refuses letters), not acted on
            assert app.query_one(box, Input).value.endswith("1") and app.is_running
            await pilot.press("escape")
            assert isinstance(app.focused, MuleTable), key
        assert not app.query_one("#filter", Input).display  # an empty filter hides again
        assert app.is_running
        await pilot.press("2")
        assert app.query_one("#tabs").active == "tab-messages"  # keys act again


async def test_letters_typed_on_a_checkbox_or_button_never_act_on_a_mule(console, tmp_path):
    app, sent = echo_stack(console, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await two_mules(console, tmp_path, pilot)
        pids = {m: app.master.mules[m].pid for m in (1, 2)}
        await pilot.press("m", "tab")  # text box → the "bytes escapes" checkbox
        assert isinstance(app.focused, Checkbox)
        assert not {"k", "s", "r", "q"} & footer_keys(app)  # the footer shows what works here
        await pilot.press(*"krsRcq")
        await pilot.press("tab")  # the Send button
        await pilot.press(*"krsRcq")
        await pilot.pause(0.5)
        assert not isinstance(app.screen, ConfirmScreen)
        assert {m: app.master.mules[m].pid for m in (1, 2)} == pids
        assert app.is_running and not sent
        await pilot.press("escape")
        assert {"k", "s", "r", "q"} <= footer_keys(app)


async def test_m_aims_the_composer_at_the_selected_mule_and_enter_sends_and_returns(console, tmp_path):
    app, sent = echo_stack(console, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await two_mules(console, tmp_path, pilot)
        await pilot.press("down", "m")
        assert app.query_one("#msg-target", Select).value == 2
        await pilot.press("enter")  # empty: warned, not sent
        assert "empty" in str(app.query_one("#msg-result", Label).render())
        assert not sent
        await pilot.press(*"hello", "enter")
        await until(pilot, lambda: len(sent) == 1, what="the send")
        assert (sent[0].target, sent[0].preview) == (2, "hello")
        assert isinstance(app.focused, MuleTable)
        await until(pilot, lambda: any("echo got b'hello'" in line[TEXT] for line in app.model.log.all), what="echo")
        await pilot.press("m", "enter", "enter")  # an empty message twice: sent, as uWSGI allows
        await until(pilot, lambda: len(sent) == 2, what="the empty send")
        assert sent[1].size == 0


async def test_a_burst_of_keys_loses_none(console, tmp_path):
    # A paste or a fast typist: every key is queued before the first one is handled.
    app, sent = echo_stack(console, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await two_mules(console, tmp_path, pilot)
        for key in ("m", *"quick brown fox", "enter"):
            app.post_message(events.Key(key, key if len(key) == 1 else None))
        await until(pilot, lambda: sent, what="the send")
        assert [e.preview for e in sent] == ["quick brown fox"], app.query_one("#msg-text", Input).value
        for key in ("g", "1", "7"):
            app.post_message(events.Key(key, key))
        await until(pilot, lambda: len(app.query_one("#sig-number", Input).value) >= 2, what="two digits")
        assert app.query_one("#sig-number", Input).value == "17"


async def test_kill_stop_and_reload_ask_first(console, tmp_path):
    app, _sent = echo_stack(console, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await two_mules(console, tmp_path, pilot)
        pids = {m: app.master.mules[m].pid for m in (1, 2)}
        for key in ("k", "s", "R"):
            await pilot.press(key)
            assert isinstance(app.screen, ConfirmScreen), key
            await pilot.press("escape")
            assert app.screen is app.screen_stack[0]
        await pilot.pause(0.5)
        assert {m: app.master.mules[m].pid for m in (1, 2)} == pids
        await pilot.press("R", "R")
        await until(pilot, lambda: all(app.master.mules[m].pid not in (0, pids[m]) for m in (1, 2)), what="reload")


async def test_help_names_keys_as_printed_and_fits_one_screen(console, tmp_path):
    app, _sent = echo_stack(console, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await two_mules(console, tmp_path, pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        table = keys_table()
        keys = [str(cell) for cell in table.columns[0].cells]
        assert "/" in keys and "?" in keys and "f / End" in keys and "Esc" in keys
        assert not {"slash", "question_mark"} & set(keys)
        assert any("mouse" in key for key in keys)
        assert table.row_count <= 22  # one 80x24 screen, border included
        assert all(a.sentence.endswith(".") for a in ACTIONS)
        await pilot.press("escape")
        assert app.screen is app.screen_stack[0]


async def test_a_small_terminal_keeps_help_and_quit_in_sight_and_one_hint_line(console, tmp_path):
    app, _sent = echo_stack(console, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await two_mules(console, tmp_path, pilot)

        def shown() -> dict:
            return {key.key: key.region for key in app.query(FooterKey)}

        def laid_out() -> bool:
            regions = shown()
            return all(key in regions and regions[key].width for key in ("question_mark", "q"))

        await until(pilot, laid_out, what="? and q shown in the footer")
        for key in ("question_mark", "q"):
            assert shown()[key].right <= 80, key
        assert app.query_one("#hint").styles.max_height.value == 1


async def test_x_restarts_the_stack_from_scratch_importing_the_app_again(console, tmp_path):
    (tmp_path / "app.py").write_text("import os\nprint('app imported in', os.getpid(), flush=True)\n")
    (tmp_path / "echo.py").write_text(ECHO)
    app = console("--wsgi-file=app.py", "--mule=echo.py")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.master.mules[1].pid, what="mule 1")
        first_master, first_root, first_mule = app.master, app.master.root_pid, app.master.mules[1].pid
        await pilot.press("X")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("X")
        await until(pilot, lambda: app.master is not first_master and app.master.mules[1].pid, what="a new stack")
        assert app.master.root_pid != first_root and app.master.mules[1].pid != first_mule
        imports = [line[TEXT] for line in app.model.log.all if line[TEXT].startswith("app imported in")]
        assert imports == [f"app imported in {first_root}", f"app imported in {app.master.root_pid}"]
        await pilot.press("m", *"again", "enter")
        await until(pilot, lambda: any("echo got b'again'" in line[TEXT] for line in app.model.log.all), what="echo")


async def test_arrows_and_the_keys_after_them_are_taken_in_order(console, tmp_path):
    # ↓ then k, faster than a frame: k must act on the mule below, not the one selected before.
    app, _sent = echo_stack(console, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await two_mules(console, tmp_path, pilot)
        for key in ("down", "k"):
            app.post_message(events.Key(key, None if key == "down" else key))
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        assert "mule 2" in str(app.screen.query_one("Static").render())
        await pilot.press("escape")
