"""The operator console: a Textual app whose event loop hosts the master.

The engine publishes events; one task folds them into the :class:`ConsoleModel`; a paint timer
(12 Hz) moves model and engine state into the visible widgets. Actions call the master
directly (same loop). Quitting stops the stack and reports what was left queued.
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import ClassVar

from rich.markdown import Markdown as RichMarkdown
from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.css.query import NoMatches
from textual.driver import Driver
from textual.drivers.linux_driver import LinuxDriver
from textual.drivers.web_driver import WebDriver
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import (
    Button,
    Checkbox,
    DataTable,
    Footer,
    Header,
    Input,
    Label,
    Select,
    Static,
    TabbedContent,
    TabPane,
)

from muletui.config.builder import Plan
from muletui.console.actions import TYPING_ACTIONS, bindings
from muletui.console.collector import SurvivorFreezer
from muletui.console.commands import StackCommands
from muletui.console.confirm import ConfirmScreen
from muletui.console.debugging import Debugging
from muletui.console.drivers import BrowserDriver, TerminalDriver, UserGone
from muletui.console.help import HelpScreen
from muletui.console.model import ConsoleModel
from muletui.console.request_screen import RequestScreen
from muletui.console.widgets.log_view import LogView
from muletui.console.widgets.tables import (
    LockFarmTable,
    MessageTable,
    MuleTable,
    SignalTable,
    TimerTable,
    WorkerTable,
)
from muletui.engine.master import Master, StackStartError, StackState
from muletui.ipc.request_client import send_request
from muletui.lessons import lesson_for_plan
from muletui.session import HangUp, StackReloads, StackSession

PAINT_HZ = 12
SNAPSHOT_EVERY = 3  # paints per snapshot: 4 Hz


class MuleConsole(App[dict[str, tuple[int, int]] | None]):
    """muletui's console. ``run()`` returns what was left queued at shutdown."""

    TITLE = "muletui"
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]  # noqa: RUF012 - typed by App as an instance attribute
    CSS_PATH = Path(__file__).with_name("console.tcss")
    COMMANDS = App.COMMANDS | {StackCommands}
    BINDINGS: ClassVar[list[BindingType]] = list(bindings())

    def __init__(
        self, plan: Plan, *, log_cap: int = 10_000, master: Master | None = None, clock: bool = True
    ) -> None:
        """``master``: an already built master (tests pass a scripted one); ``clock``: show the
        time in the header (snapshot tests turn it off).

        Raises :class:`~muletui.session.RecordError` when a record file cannot be opened.
        """
        super().__init__()
        self.plan = plan
        self._clock = clock
        self.model = ConsoleModel(log_cap=log_cap)
        self.session = StackSession(
            plan, HangUp.QUIT, master=master, detail_events=True, debugger=True,
            reload_on_save=True, reloads=StackReloads(self._reload_started, self._stack_started),
        )
        self.bus = self.session.bus
        self.user_gone = False  # the terminal or browser went away: nobody reads what is printed
        self.failure_status = 1  # the exit status when the stack failed (22: --need-app found no app)
        self._subscription = self.bus.subscribe()
        self._paints = 0
        self._stopping = False
        self._collector = SurvivorFreezer()
        self._empty_confirmed = False  # Enter on an empty message asked once already
        self._hint_shown: Text | None = None
        self.debugging = Debugging(self)
        self._request_history: list[str] = []
        self._post_mortem = plan.stack.debug_on_crash  # debug on crash (D toggles it)

    @property
    def master(self) -> Master:
        """The running stack's master (a restart replaces it)."""
        return self.session.master

    # -- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header(show_clock=self._clock)
        yield MuleTable(id="mules")
        yield WorkerTable(id="workers")
        with TabbedContent(id="tabs"):
            with TabPane("Log", id="tab-log"):
                yield LogView(self.model.log, id="log")
                yield Input(placeholder="filter the log (Enter to apply, empty to clear)", id="filter")
            with TabPane("Messages", id="tab-messages"):
                with Horizontal(id="composer"):
                    yield Select[object](self._targets(), id="msg-target", allow_blank=False)
                    yield Input(placeholder="message text", id="msg-text")
                    yield Checkbox("bytes escapes", id="msg-bytes")
                    yield Button("Send", id="msg-send", variant="primary")
                yield Label("", id="msg-result")
                yield MessageTable(id="messages")
            with TabPane("Signals", id="tab-signals"):
                with Horizontal(id="raiser"):
                    yield Input(placeholder="signal number", id="sig-number", restrict=r"-?\d*")
                    yield Label("", id="sig-preview")
                    yield Button("Raise", id="sig-raise", variant="warning")
                yield SignalTable(id="signals")
            with TabPane("Timers", id="tab-timers"):
                yield TimerTable(id="timers")
            with TabPane("Locks & farms", id="tab-locks"):
                yield LockFarmTable(id="locks")
            with TabPane("Lesson", id="tab-lesson"), VerticalScroll(id="lesson"):
                yield Static(RichMarkdown(self._lesson_text()), id="lesson-text")  # Textual's Markdown keeps the app alive
        yield Static("", id="hint")
        yield Footer()

    def _lesson_text(self) -> str:
        """The running lesson's Watch and Try steps, to follow without leaving the console."""
        lesson = lesson_for_plan(self.plan)
        if lesson is None:
            return "This stack is not a lesson. `muletui demo` lists the lessons; `muletui demo NAME` starts one."
        return f"# {lesson.title}\n\n{lesson.guide()}\n\nX restarts the lesson from scratch."

    @property
    def main_screen(self) -> Screen[object]:
        """The console's own screen, also while a modal screen (help, palette) is on top."""
        return self.screen_stack[0]

    def get_driver_class(self) -> type[Driver]:
        """Textual's choice, made to notice when the terminal or the browser goes away."""
        chosen = super().get_driver_class()
        if chosen is LinuxDriver:
            return TerminalDriver
        if chosen is WebDriver:
            return BrowserDriver
        return chosen

    def on_resize(self, event: events.Resize) -> None:
        """Below 120 columns the footer drops its padding, so more keys stay in sight."""
        self.main_screen.query_one(Footer).compact = event.size.width < 120

    def on_mount(self) -> None:
        self.main_screen.query_one("#filter", Input).display = False
        self.main_screen.query_one(WorkerTable).display = self.plan.stack.workers > 0
        self.sub_title = "starting the stack…"
        self.session.watch_process_signals()
        self._quit_when_asked()
        self._fold_events()
        self._run_stack()
        self._painter = self.set_interval(1 / PAINT_HZ, self._paint)
        if self.plan.run.duration is not None:
            self.set_timer(self.plan.run.duration, self.action_quit)

    # -- the stack -------------------------------------------------------------------------

    @work(group="events")
    async def _fold_events(self) -> None:
        """Fold every event into the model, for the app's whole life (across stack restarts)."""
        while batch := await self._subscription.batch():
            self.model.apply(batch)
            self.model.log.events_lost = self._subscription.dropped
            await self.debugging.follow(batch)

    @work(exclusive=True, group="stack")
    async def _run_stack(self, restart: bool = False) -> None:
        """Start the stack in this loop (its thread must outlive it); ``restart``: stop the
        running one first, and import the app again in a fresh stack root."""
        self.sub_title = "restarting the stack…" if restart else "starting the stack…"
        try:
            await (self.session.restart() if restart else self.session.start())
        except StackStartError as error:
            self._stack_started(error)
        else:
            self._stack_started(None)

    def _reload_started(self, why: str) -> None:
        """The session reloads the stack by itself: a saved file, ``--touch-reload``, ``--py-autoreload``."""
        self.sub_title = "restarting the stack…"
        self.notify(why, title="reloading the stack", timeout=3)

    def _stack_started(self, error: StackStartError | None) -> None:
        """Show how a start, a restart or a reload ended: the mules, or why the stack could not start."""
        if error is not None:
            self.sub_title = "the stack could not start"
            self.model.failure = str(error)
            self.failure_status = error.status
            self.notify(str(error), title="stack failed", severity="error", timeout=30)
        else:
            self.model.failure = None
            mules = len(self.master.mules)
            workers = len(self.master.workers)
            self.sub_title = f"{mules} mule{'s' * (mules != 1)}" + (f", {workers} worker{'s' * (workers != 1)}" if workers else "")
            self._collector.start()  # at the first start that succeeds (idempotent)

    def action_restart_stack(self, confirmed: bool = False) -> None:
        """Stop the stack and start it from scratch: a new stack root imports the app again."""

        def act(yes: bool | None) -> None:
            if yes and not self._stopping and self.master.state in (StackState.RUNNING, StackState.FAILED):
                self._run_stack(restart=True)

        if confirmed:
            act(True)
        else:
            question = "Restart the stack from scratch? Every mule stops, and the app is imported again."
            self.push_screen(ConfirmScreen(question, "X"), act)

    @work(group="stop")
    async def _quit_when_asked(self) -> None:
        """A process signal or a lost terminal asked the session to stop: quit as ``q`` does."""
        await self.session.wait_stop_request()
        await self.action_quit()

    @on(UserGone)
    def _user_gone(self, message: UserGone) -> None:
        self.user_gone = True
        self.session.request_stop(message.why)

    def _targets(self) -> list[tuple[str, object]]:
        """Message targets: each mule (mule 1 first, the usual one), the shared queue, each farm."""
        options: list[tuple[str, object]] = [(f"mule {m.mule_id}", m.mule_id) for m in self.plan.stack.mules]
        options.append(("any mule (shared queue)", 0))
        options += [(f"farm {farm.name}", farm.name) for farm in self.plan.stack.farms]
        return options

    # -- painting --------------------------------------------------------------------------

    def _paint(self) -> None:
        try:
            self._paint_widgets()
        except (NoMatches, IndexError):  # the app is closing: its widgets (or screens) are gone
            self._painter.stop()

    def _paint_widgets(self) -> None:
        self._paints += 1
        if self.master.state is StackState.RUNNING and self._paints % SNAPSHOT_EVERY == 0:
            self.model.observe(self.master.snapshot())
        snapshot = self.model.snapshot
        if snapshot is not None:
            self.main_screen.query_one(MuleTable).paint(snapshot, self.master.agents.stops())
            if snapshot.workers:
                self.main_screen.query_one(WorkerTable).paint(snapshot.workers)
        active = self.main_screen.query_one(TabbedContent).active
        if active == "tab-log":
            self.main_screen.query_one(LogView).sync()
        elif active == "tab-messages":
            self.main_screen.query_one(MessageTable).paint(self.model)
        elif active == "tab-signals" and self.master.signals is not None:
            self.main_screen.query_one(SignalTable).paint(self.master.signals.table)
        elif active == "tab-timers" and self.master.signals is not None:
            signals = self.master.signals
            self.main_screen.query_one(TimerTable).paint(
                signals.timers.schedules, signals.file_monitors.monitors, signals.table, self.model
            )
        elif active == "tab-locks" and snapshot is not None:
            self.main_screen.query_one(LockFarmTable).paint(snapshot)
        self._paint_hint()

    def _paint_hint(self) -> None:
        """Update the hint line only when its text changes: an update re-lays the screen out."""
        hint = self.model.latest_hint
        if self.model.failure:
            text = Text(f"✖ {self.model.failure}", style="bold red")
        elif hint is None:
            text = Text("No trap spotted yet. Press ? for help, ctrl+p for commands.", style="dim")
        else:
            times = f" (×{hint.count})" if hint.count > 1 else ""
            text = Text(f"⚠ {hint.text}{times}")
        if text != self._hint_shown:
            self._hint_shown = text
            self.main_screen.query_one("#hint", Static).update(text)

    # -- mule actions ----------------------------------------------------------------------

    def selected_mule(self) -> int | None:
        return self.main_screen.query_one(MuleTable).selected_mule()

    def _on_mule(self, verb: str, mule_id: int | None, confirm: str = "") -> None:
        """Do ``verb`` to ``mule_id`` (``None``: the selected mule, after ``confirm`` if given:
        a key asks first, a palette command is already a deliberate choice)."""
        chosen = mule_id if mule_id is not None else self.selected_mule()
        if chosen is None or self.master.state is not StackState.RUNNING:
            self.notify("no running stack", severity="warning")
            return

        def act(confirmed: bool | None = True) -> None:
            if confirmed:
                getattr(self.master, f"{verb}_mule")(chosen)
                self.notify(f"{verb} mule {chosen}", timeout=2)

        if mule_id is None and confirm:
            self.push_screen(ConfirmScreen(confirm.format(mule=chosen), verb[0]), act)
        else:
            act()

    def action_restart_mule(self, mule_id: int | None = None) -> None:
        self._on_mule("restart", mule_id)

    def action_stop_mule(self, mule_id: int | None = None) -> None:
        self._on_mule("stop", mule_id, "Stop mule {mule}? It stays down until r starts it again.")

    def action_kill_mule(self, mule_id: int | None = None) -> None:
        self._on_mule("kill", mule_id, "Kill mule {mule} with SIGKILL? It is respawned as after a crash.")

    def action_reload_mules(self, confirmed: bool = False) -> None:
        if self.master.state is not StackState.RUNNING:
            return

        def act(yes: bool | None) -> None:
            if yes and self.master.state is StackState.RUNNING:
                self.master.reload_mules()
                self.notify("reloading every mule", timeout=2)

        if confirmed:
            act(True)
        else:
            self.push_screen(ConfirmScreen("Reload every mule? Each gets SIGHUP and is forked again.", "R"), act)

    # -- log actions -----------------------------------------------------------------------

    def action_toggle_source(self) -> None:
        log = self.main_screen.query_one(LogView)
        source = None if log.source is not None else self.selected_mule()
        log.show(source)
        log.border_title = "all mules" if source is None else f"mule {source} only"

    def action_filter_log(self) -> None:
        self.main_screen.query_one(TabbedContent).active = "tab-log"
        box = self.main_screen.query_one("#filter", Input)
        box.display = True
        self.focus_now(box)

    @on(Input.Submitted, "#filter")
    def _apply_filter(self, event: Input.Submitted) -> None:
        log = self.main_screen.query_one(LogView)
        log.show(log.source, event.value)
        event.input.display = bool(event.value)
        self.action_leave_form()

    def action_follow(self) -> None:
        self.main_screen.query_one(LogView).action_follow()

    def action_toggle_time(self) -> None:
        log = self.main_screen.query_one(LogView)
        log.show_time = not log.show_time

    def action_clear_log(self) -> None:
        self.model.log.clear()
        self.main_screen.query_one(LogView).show(self.main_screen.query_one(LogView).source)

    # -- messages --------------------------------------------------------------------------

    def action_compose_message(self, target: object | None = None) -> None:
        """Open the composer aimed at ``target`` (``None``: the selected mule)."""
        self.main_screen.query_one(TabbedContent).active = "tab-messages"
        aim = target if target is not None else self.selected_mule()
        if aim is not None:
            self.main_screen.query_one("#msg-target", Select).value = aim
        self._empty_confirmed = False
        self.focus_now(self.main_screen.query_one("#msg-text", Input))

    @on(Button.Pressed, "#msg-send")
    @on(Input.Submitted, "#msg-text")
    def _send(self) -> None:
        box = self.main_screen.query_one("#msg-text", Input)
        text = box.value
        target = self.main_screen.query_one("#msg-target", Select).value
        result = self.main_screen.query_one("#msg-result", Label)
        if self.master.state is not StackState.RUNNING:
            result.update(Text("the stack is not running", style="bold red"))
            return
        if not text and not self._empty_confirmed:
            self._empty_confirmed = True  # uWSGI sends b'' too: a second Enter does
            result.update(Text("the message is empty: Enter again sends it as b''", style="bold yellow"))
            return
        self._empty_confirmed = False
        if self.main_screen.query_one("#msg-bytes", Checkbox).value:
            try:
                data = codecs.escape_decode(text.encode("utf-8"))[0]
            except ValueError as error:
                result.update(Text(f"bad escape: {error}", style="bold red"))
                return
        else:
            data = text.encode("utf-8")
        fate = self.master.send_message(data, target if isinstance(target, int | str) else 0)
        shown = "any mule" if target == 0 else (f"mule {target}" if isinstance(target, int) else f"farm {target}")
        style = "green" if fate == "queued" else "bold red"
        result.update(Text(f"{len(data)} bytes → {shown}: {fate}", style=style))
        if fate == "queued":
            box.value = ""
            self.action_leave_form()

    # -- signals ---------------------------------------------------------------------------

    def action_raise_signal(self, signum: int | None = None) -> None:
        if signum is not None:
            self._raise(signum)
            return
        self.main_screen.query_one(TabbedContent).active = "tab-signals"
        box = self.main_screen.query_one("#sig-number", Input)
        box.value = ""
        self.focus_now(box)

    @on(DataTable.RowSelected, "#signals")
    def _raise_selected(self, event: DataTable.RowSelected) -> None:
        """Enter (or a click) on a row of the signal table raises that signal."""
        signum = self.main_screen.query_one(SignalTable).selected_signal()
        if signum is not None:
            self._raise(signum)

    def signal_preview(self, signum: int) -> str:
        """``signal 17 → mule2 (i_am_mule2)``, or why it will reach nobody."""
        table = self.master.signals.table if self.master.signals is not None else {}
        entry = table.get(signum & 0xFF)
        if entry is None:
            if self.master.workers:
                return f"signal {signum & 0xFF} → not registered: a worker takes it (error managing signal {signum & 0xFF})"
            return f"signal {signum & 0xFF} → not registered: uWSGI sends it to a worker (none here)"
        return f"signal {signum & 0xFF} → {entry.target or 'any worker'} ({entry.handler})"

    @on(Input.Changed, "#sig-number")
    def _preview(self, event: Input.Changed) -> None:
        label = self.main_screen.query_one("#sig-preview", Label)
        try:
            signum = int(event.value)
        except ValueError:
            label.update("")
            return
        wrap = f" (uWSGI takes {signum} mod 256)" if not 0 <= signum <= 255 else ""
        label.update(self.signal_preview(signum) + wrap)

    @on(Button.Pressed, "#sig-raise")
    @on(Input.Submitted, "#sig-number")
    def _raise_from_input(self) -> None:
        try:
            signum = int(self.main_screen.query_one("#sig-number", Input).value)
        except ValueError:
            self.notify("type a signal number (0..255)", severity="warning")
            return
        self._raise(signum)
        self.action_leave_form()

    def _raise(self, signum: int) -> None:
        if self.master.state is not StackState.RUNNING:
            self.notify("the stack is not running", severity="warning")
            return
        self.master.raise_signal(signum)
        self.notify(self.signal_preview(signum), title="raised", timeout=3)

    # -- requests --------------------------------------------------------------------------

    def action_send_request(self) -> None:
        """Ask for ``METHOD /path`` and send it to the stack's first socket."""
        if self.master.state is not StackState.RUNNING or not self.master.listeners.sockets:
            self.notify("no socket to send a request to: start the stack with --http-socket or --socket",
                        severity="warning", timeout=5)
            return
        listener = self.master.listeners.sockets[0]
        where = f"{listener.spec.protocol} socket {listener.bound}"

        def send(request: tuple[str, str] | None) -> None:
            if request is not None:
                self._send_request(listener.spec.protocol, listener.bound, *request)

        self.push_screen(RequestScreen(where, self._request_history), send)

    @work(group="requests")
    async def _send_request(self, protocol: str, address: str, method: str, path: str) -> None:
        try:
            answer = await send_request(protocol, address, method, path)
        except (OSError, TimeoutError) as error:
            self.notify(f"{method} {path}: {error or 'no answer in time'}", title="request failed", severity="error")
            return
        body = answer.body.strip().replace("\n", " ")[:80]
        self.notify(f"{answer.status} in {answer.seconds * 1000:.0f} ms\n{body}", title=f"{method} {path}", timeout=6)

    # -- debugging -------------------------------------------------------------------------

    def action_debug(self, mule_id: int | None = None) -> None:
        """Back to a debugger pane: the selected mule's, else the first mule stopped at a prompt."""
        self.debugging.show(mule_id if mule_id is not None else self.selected_mule())

    def action_where(self, mule_id: int | None = None) -> None:
        chosen = self._running_mule(mule_id)
        if chosen is not None:
            self.debugging.where(chosen)

    def action_evaluate(self, mule_id: int | None = None) -> None:
        chosen = self._running_mule(mule_id)
        if chosen is not None:
            self.debugging.evaluate(chosen)

    def action_toggle_post_mortem(self) -> None:
        """Turn debug-on-crash on or off for every mule, from now on."""
        self._post_mortem = not self._post_mortem
        self.master.agents.set_post_mortem(self._post_mortem)
        state = "on: a programmed mule's uncaught exception stops it in a post-mortem pane" if self._post_mortem else "off"
        self.notify(f"debug on crash {state}", timeout=4)

    def _running_mule(self, mule_id: int | None) -> int | None:
        """``mule_id`` (``None``: the selected mule) if it has a running process, else say why not."""
        chosen = mule_id if mule_id is not None else self.selected_mule()
        mule = self.master.mules.get(chosen) if chosen is not None else None
        if mule is None or not mule.pid or self.master.state is not StackState.RUNNING:
            self.notify(f"mule {chosen} is not running" if chosen else "no running stack", severity="warning")
            return None
        return chosen

    # -- focus -----------------------------------------------------------------------------

    def focus_now(self, widget: Widget) -> None:
        """Focus ``widget`` before the next key is handled (``focus()`` waits a turn, and the
        keys of a fast typist or a paste would reach the old focus)."""
        self.main_screen.set_focus(widget)

    def in_form(self) -> bool:
        """A text box, checkbox, button or select has focus: plain keys are typing there."""
        focused = self.main_screen.focused
        return isinstance(focused, Input | Checkbox | Button | Select) or (
            focused is not None and any(isinstance(node, Select) for node in focused.ancestors)
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Plain-character keys never act from a form (Escape leaves it) or over a dialog, the
        help or the palette: they are typing there. The footer hides them then."""
        if action == "select_mule":  # the arrows act here only for the mule table
            return self.screen is self.main_screen and isinstance(self.main_screen.focused, MuleTable)
        return not (action in TYPING_ACTIONS and (self.screen is not self.main_screen or self.in_form()))

    def action_select_mule(self, step: int) -> None:
        """↑/↓ on the mule table, taken in order with the keys that act on the selection."""
        table = self.main_screen.query_one(MuleTable)
        table.action_cursor_up() if step < 0 else table.action_cursor_down()

    def action_leave_form(self) -> None:
        """Escape: leave the text box or form for the mule table. An unapplied filter edit is
        dropped (the filter in force stays, and its box shows only while there is one)."""
        box = self.main_screen.query_one("#filter", Input)
        if self.focused is box:
            box.value = self.main_screen.query_one(LogView).filter_text
        box.display = bool(box.value)
        self.debugging.leave()
        self.focus_now(self.main_screen.query_one(MuleTable))

    def action_tab(self, pane: str) -> None:
        self.main_screen.query_one(TabbedContent).active = pane

    # -- help and quit ---------------------------------------------------------------------

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    async def action_interrupt(self) -> None:
        """Ctrl+C, the terminal's interrupt key: quit from anywhere."""
        await self.action_quit()

    async def action_quit(self) -> None:
        """Stop the stack (mules get SIGINT, then SIGKILL after the grace), then leave."""
        self.sub_title = "stopping the stack…"
        self.exit(await self._stop_stack())

    async def _stop_stack(self) -> dict[str, tuple[int, int]]:
        """Stop the stack once; a second caller waits for the same stop and its report."""
        if not self._stopping:
            self._stopping = True
            self._painter.stop()  # the widgets may be going away from here on
        return await self.session.close()

    async def on_unmount(self) -> None:
        """However the app ends (quit, ctrl+c, a test leaving run_test), no mule outlives it."""
        await self._stop_stack()
        self.session.unwatch_process_signals()  # after the stop: a second SIGTERM meanwhile is ours
        self._collector.stop()
