"""The help screen: every key in a sentence (from the one actions table), and the traps."""

from __future__ import annotations

from typing import ClassVar

from rich.markdown import Markdown
from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from muletui.console.actions import ACTIONS, MORE_HELP, key_symbol

TRAPS = """
## uWSGI traps muletui points out

- `mule_get_msg()` with the default `signals=True` does **not** take signals (the flag is
  inverted in uWSGI 2.0): they pile up and arrive later, one per `signals=False` call.
- An id-less `mule_msg()` goes to whichever mule reads the shared queue first, signal-mode mules
  included, which hand it to `mule_msg_hook` or drop it.
- A programmed mule that returns is respawned forever; muletui backs off and says so.
- Messages longer than `buffer_size` are truncated; a full queue makes `mule_msg()` return False.
"""


def keys_table() -> Table:
    """Every key and what it does, one row each; the tab keys share one row."""
    table = Table(box=None, show_header=False, padding=(0, 1), expand=True)
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column(ratio=1)
    tabs = [a for a in ACTIONS if a.action.startswith("tab(")]
    for action in ACTIONS:
        if action in tabs[1:] or not action.own_help_row:
            continue
        if action is tabs[0]:
            titles = ", ".join(a.label for a in tabs)
            table.add_row(f"{tabs[0].keys}…{tabs[-1].keys}", f"Show a tab: {titles}.")
        else:
            table.add_row(key_symbol(action.keys), action.sentence)
    for keys, sentence in MORE_HELP:
        table.add_row(keys, sentence)
    return table


class HelpScreen(ModalScreen[None]):
    """Keys and traps; Escape, ? or q closes it."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 96%; max-width: 100; height: 96%; border: thick $primary; background: $surface; }
    HelpScreen Static { padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,question_mark,q", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(keys_table())
            yield Static(Markdown(TRAPS))  # not Textual's Markdown widget: it keeps an ended app alive
