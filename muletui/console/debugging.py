"""The console's debugging: a ``Pdb N`` tab for each mule that stops at a breakpoint, and the
screens that look into a running mule (``w``, ``e``). What is stopped where is read from the
engine (:class:`~muletui.engine.agents.MuleAgents`); the engine's debugger events carry what
each mule's pdb says to its pane."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textual.widgets import TabbedContent

from muletui.console.debug_pane import DebugPane, pane_id
from muletui.console.inspect_screens import EVAL_TIMEOUT, EvalScreen, StacksScreen
from muletui.engine import events

if TYPE_CHECKING:
    from muletui.console.app import MuleConsole


class Debugging:
    """The debugger panes of one console, and the prompts' histories, kept across stack restarts."""

    def __init__(self, app: MuleConsole) -> None:
        self._app = app
        self._panes: dict[int, DebugPane] = {}  # by mule id: every mule that stopped at a prompt
        self._tab_before = "tab-log"  # where Escape from a pane goes back to
        self._pdb_history: dict[int, list[str]] = {}
        self._eval_transcripts: dict[int, list[str]] = {}
        self._eval_history: dict[int, list[str]] = {}

    @property
    def panes(self) -> dict[int, DebugPane]:
        return self._panes

    async def follow(self, batch: list[events.Event]) -> None:
        """Open a mule's pane when it stops, and carry what its debugger says there."""
        for event in batch:
            if isinstance(event, events.DebuggerStopped):
                await self._stopped(event)
            elif isinstance(event, events.DebuggerOutput):
                (await self._pane(event.mule_id)).transcript.say(event.text)
            elif isinstance(event, events.DebuggerResumed) and event.mule_id in self._panes:
                self._panes[event.mule_id].resumed()
            elif isinstance(event, events.MuleExited) and event.mule_id in self._panes:
                how = f"killed by {event.signal}" if event.signal else f"exit {event.code}"
                self._panes[event.mule_id].transcript.say(f"\n--- mule {event.mule_id} (pid {event.pid}) ended: {how} ---\n")

    async def _pane(self, mule_id: int) -> DebugPane:
        """Mule ``mule_id``'s pane, added to the tabs the first time it is needed."""
        pane = self._panes.get(mule_id)
        if pane is None:
            app = self._app
            pane = self._panes[mule_id] = DebugPane(
                mule_id, app.plan.stack.chdir or str(Path.cwd()), self._pdb_history.setdefault(mule_id, []),
                send=lambda line: app.master.agents.type_line(mule_id, line),
            )
            await app.main_screen.query_one(TabbedContent).add_pane(pane)
        return pane

    async def _stopped(self, stop: events.DebuggerStopped) -> None:
        """Show where the mule stopped; bring its pane up and focused, unless the user is busy
        elsewhere (typing in a form, a dialog open): then say so, and ``d`` brings it."""
        app = self._app
        pane = await self._pane(stop.mule_id)
        pane.stopped(stop)
        if pane.prompt is app.main_screen.focused:
            return
        if app.screen is not app.main_screen or app.in_form():
            app.notify(f"mule {stop.mule_id} stopped at {stop.file}:{stop.line}: d opens its debugger",
                       title="breakpoint", timeout=8)
            return
        self._show(pane)

    def _show(self, pane: DebugPane) -> None:
        tabs = self._app.main_screen.query_one(TabbedContent)
        if not tabs.active.startswith("tab-debug-"):
            self._tab_before = tabs.active
        tabs.active = pane_id(pane.mule_id)
        self._app.focus_now(pane.prompt)

    def show(self, mule_id: int | None) -> None:
        """Back to a pane: mule ``mule_id``'s if it is stopped, else the first mule stopped at a prompt."""
        stopped = sorted(self._app.master.agents.stops())
        if mule_id not in stopped and stopped:
            mule_id = stopped[0]
        pane = self._panes.get(mule_id) if mule_id is not None else None
        if pane is None:
            self._app.notify("no mule is at a breakpoint: breakpoint() in a mule's code stops it here", timeout=4)
            return
        self._show(pane)

    def leave(self) -> None:
        """Escape: off a pane, back to the tab shown before (the mule stays stopped)."""
        tabs = self._app.main_screen.query_one(TabbedContent)
        if tabs.active.startswith("tab-debug-"):
            tabs.active = self._tab_before

    def where(self, mule_id: int) -> None:
        """The live stacks of a mule's threads, taken without stopping it."""
        app = self._app  # its master, not this one's: the stack may restart while the screen is open
        app.push_screen(StacksScreen(mule_id, lambda: app.master.agents.stacks(mule_id)))

    def evaluate(self, mule_id: int) -> None:
        """A Python prompt in a mule's namespace, while it runs."""
        app = self._app
        spec = next(m for m in app.plan.stack.mules if m.mule_id == mule_id)
        where = {"script": f"__main__ of {spec.program}", "callable": f"the module of {spec.program}"}.get(
            spec.mode, "the app's module"
        )
        app.push_screen(EvalScreen(
            mule_id, where, lambda source: app.master.agents.evaluate(mule_id, source, EVAL_TIMEOUT),
            self._eval_transcripts.setdefault(mule_id, []), self._eval_history.setdefault(mule_id, []),
        ))
