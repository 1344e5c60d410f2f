"""Command palette entries: the stack-wide actions of the actions table, the hint history, and
commands built from the live stack: "signal: raise 17 → mule2", "message: send to mule 1",
"mule: restart 2"."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from textual.command import Hit, Hits, Provider

from muletui.console.actions import ACTIONS, key_symbol
from muletui.console.hints import HintsScreen

if TYPE_CHECKING:
    from muletui.console.app import MuleConsole


def show_hints(app: MuleConsole) -> None:
    """Open the hint history, as it is now."""
    app.push_screen(HintsScreen(app.model.hints.values()))


class StackCommands(Provider):
    """Mule, signal and message commands for whatever the stack has right now."""

    def _commands(self) -> list[tuple[str, Callable[[], object], str]]:
        app: MuleConsole = self.app  # type: ignore[assignment]
        master = app.master
        commands: list[tuple[str, Callable[[], object], str]] = [
            (
                action.palette,
                partial(app.run_action, action.palette_action or action.action),
                f"{key_symbol(action.keys)}: {action.sentence}",
            )
            for action in ACTIONS
            if action.palette
        ]
        commands.append(
            ("hints: every trap noticed so far", partial(show_hints, app), "when each hint was seen, and how often")
        )
        for mule_id in master.mules:
            for verb, key, what in (("restart", "r", "gracefully"), ("stop", "s", "and keep it down"), ("kill", "k", "with SIGKILL")):
                action = getattr(app, f"action_{verb}_mule")
                commands.append((f"mule: {verb} {mule_id}", partial(action, mule_id), f"{key}: {verb} mule {mule_id} {what}"))
            commands.append(
                (f"message: send to mule {mule_id}", partial(app.action_compose_message, mule_id), "m: open the composer")
            )
            commands.append((f"mule: where is mule {mule_id}", partial(app.action_where, mule_id),
                             "w: the live stack of each of its threads"))
            commands.append((f"mule: evaluate in mule {mule_id}", partial(app.action_evaluate, mule_id),
                             "e: a Python prompt in its namespace"))
            if app.master.agents.stopped_at(mule_id) is not None:
                commands.append((f"mule: debug mule {mule_id}", partial(app.action_debug, mule_id),
                                 "d: its debugger pane (it waits at a breakpoint)"))
        commands.append(("message: send to any mule", partial(app.action_compose_message, 0), "the shared queue"))
        for farm in app.plan.stack.farms:
            commands.append(
                (f"message: send to farm {farm.name}", partial(app.action_compose_message, farm.name), "farm queue")
            )
        if master.signals is not None:
            for signum, entry in sorted(master.signals.table.items()):
                target = entry.target or "any worker"
                commands.append(
                    (f"signal: raise {signum} → {target}", partial(app.action_raise_signal, signum), entry.handler)
                )
        return commands

    async def discover(self) -> Hits:
        for name, callback, help_text in self._commands():
            yield Hit(1.0, name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, callback, help_text in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
