"""Every key of the console, once: the bindings, the footer, the help screen and the command
palette are all generated from :data:`ACTIONS`."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingType

from muletui.console.tabs import TABS

#: How a Textual key name is shown to a person.
_SYMBOLS = {
    "slash": "/", "question_mark": "?", "end": "End", "escape": "Esc", "enter": "Enter",
    "ctrl+c": "Ctrl+C", "ctrl+p": "Ctrl+P", "tab": "Tab", "shift+tab": "Shift+Tab",
}


def key_symbol(keys: str) -> str:
    """``f,end`` → ``f / End``: Textual key names as a person reads them."""
    return " / ".join(_SYMBOLS.get(key, key) for key in keys.split(","))


@dataclass(frozen=True)
class ConsoleAction:
    """One thing a key does.

    ``action`` is the Textual action string (``restart_mule``); ``label`` the footer's word;
    ``sentence`` what the help screen says. ``palette`` names it in the command palette, where
    ``palette_action`` runs (the key's own action if empty; a palette choice is deliberate, so
    it skips a key's confirmation). Without a ``palette`` name, the palette has per-mule
    commands for it, or nothing (Escape, Ctrl+C). A ``typing`` key is a
    plain character: it never fires while a form control (text box, checkbox, button) has focus.
    """

    keys: str
    action: str
    label: str
    sentence: str
    palette: str = ""
    palette_action: str = ""
    footer: bool = True
    in_order: bool = False  # taken as the app reads it, like a typing key (see binding())
    own_help_row: bool = True  # False: a row of MORE_HELP says it with others

    @property
    def typing(self) -> bool:
        return any(len(key) == 1 or key in ("slash", "question_mark") for key in self.keys.split(","))

    def binding(self) -> Binding:
        """A typing key is a *priority* binding: it acts as the app takes it, before it is handed
        to the focused widget, so a key that moves focus (``m``) takes effect before the next key
        of a burst is delivered. ``MuleConsole.check_action`` turns these off in forms. The mule
        table's arrows are taken the same way (``in_order``), so ``↓ k`` kills the mule below
        however fast the two keys come."""
        return Binding(
            self.keys,
            self.action,
            self.label,
            show=self.footer,
            key_display=key_symbol(self.keys),
            priority=self.typing or self.in_order,
        )


#: In footer order: help and quit first, so a narrow terminal never loses them.
ACTIONS: tuple[ConsoleAction, ...] = (
    ConsoleAction("question_mark", "help", "Help", "This screen.", palette="help: every key"),
    ConsoleAction("q", "quit", "Quit", "Stop the stack (saying what was left queued) and quit.",
                  palette="quit: stop the stack and quit"),
    ConsoleAction("r", "restart_mule", "Restart", "Restart the selected mule: SIGHUP, then a fresh fork."),
    ConsoleAction("s", "stop_mule", "Stop", "Stop the selected mule and keep it down (asks first; r starts it)."),
    ConsoleAction("k", "kill_mule", "Kill", "SIGKILL the selected mule: respawned like a crash (asks first)."),
    ConsoleAction("R", "reload_mules", "Reload", "Reload every mule, as SIGHUP does headless (asks first).",
                  palette="mule: reload all mules", palette_action="reload_mules(True)"),
    ConsoleAction("X", "restart_stack", "Restart all", "Restart the stack from scratch: the app is imported again.",
                  palette="stack: restart from scratch (import the app again)", palette_action="restart_stack(True)",
                  footer=False),
    ConsoleAction("m", "compose_message", "Message", "Write a message to the selected mule (or any mule, a farm)."),
    ConsoleAction("g", "raise_signal", "Signal", "Raise a signal by number, with where it will go.",
                  palette="signal: raise a signal by number"),
    ConsoleAction("h", "send_request", "Request", "Send a request (GET /path) to the stack's first socket.",
                  palette="request: send a request to the stack", footer=False),
    ConsoleAction("a", "toggle_source", "All/one", "Log of every mule, or of the selected mule only.",
                  palette="log: all mules or the selected one"),
    ConsoleAction("slash", "filter_log", "Filter", "Filter the log: Enter applies, an empty filter clears.",
                  palette="log: filter"),
    ConsoleAction("w", "where", "Where", "Live stack of every thread of the selected mule, without stopping it.",
                  own_help_row=False),
    ConsoleAction("e", "evaluate", "Eval", "Python prompt in the selected mule's namespace, while the mule runs.",
                  own_help_row=False),
    ConsoleAction("d", "debug", "Debug", "Back to the debugger pane of a mule stopped at a breakpoint.",
                  palette="debug: back to a stopped mule's (Pdb) pane", own_help_row=False),
    ConsoleAction("D", "toggle_post_mortem", "Post-mortem",
                  "Debug on crash: a programmed mule's uncaught exception stops it in a post-mortem pane (on/off).",
                  palette="debug: post-mortem on crash (on/off)", footer=False, own_help_row=False),
    ConsoleAction("f,end", "follow", "Follow", "Follow the newest lines again (scrolling up pauses).",
                  palette="log: follow the newest lines", footer=False, own_help_row=False),
    ConsoleAction("t", "toggle_time", "Time", "Show or hide the time of each log line.",
                  palette="log: toggle timestamps", footer=False, own_help_row=False),
    ConsoleAction("c", "clear_log", "Clear", "Clear the log (the mules' buffers too).",
                  palette="log: clear", footer=False, own_help_row=False),
    *(
        ConsoleAction(key, f"tab({pane!r})", title, f"Show the {title} tab.", palette=f"view: {title.lower()}",
                      footer=False)
        for key, title, pane in TABS
    ),
    ConsoleAction("up", "select_mule(-1)", "Up", "Select the mule above.", footer=False, in_order=True,
                  own_help_row=False),
    ConsoleAction("down", "select_mule(1)", "Down", "Select the mule below.", footer=False, in_order=True,
                  own_help_row=False),
    ConsoleAction("escape", "leave_form", "Back", "Leave a text box or dialog: back to the mule table.", footer=False),
    ConsoleAction("ctrl+c", "interrupt", "Quit", "Quit from anywhere; in a text box with a selection, copy it.",
                  footer=False),
)

#: What the help screen adds to the keys: Textual's own keys and the mouse.
MORE_HELP: tuple[tuple[str, str], ...] = (
    ("Ctrl+P", "Command palette: every action, plus each mule, signal and message target."),
    ("Tab / Shift+Tab", "Move between the mule table, the tabs and the log or form."),
    ("↑ ↓ / mouse", "Select a mule: click its row. Click a tab; the wheel scrolls the log."),
    ("← → / drag", "In the log: scroll long lines sideways; drag or double-click selects, Ctrl+C copies."),
    ("f / End", "Follow the newest lines again (scrolling up pauses); t: timestamps on/off; c: clear the log."),
    ("w e d D", "Debug the selected mule: w its live stacks, e a Python prompt in it, d back to its (Pdb) "
                + "pane, D post-mortem on crash."),
)

#: Actions of plain-character keys: off while a form control has focus, where keys are typing.
TYPING_ACTIONS = frozenset(a.action.partition("(")[0] for a in ACTIONS if a.typing)


def bindings() -> list[BindingType]:
    return [action.binding() for action in ACTIONS]
