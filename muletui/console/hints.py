"""The hint history: every trap the console noticed, when, and how often, whole.

The hint line shows only the latest trap, on one line at small sizes, and a newer one replaces
it within seconds; this screen (from the command palette) lists them all.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from muletui.console.model import Hint


def _clock(wall: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(wall))


def hints_table(hints: Iterable[Hint]) -> Table | Text:
    """One row per hint, the most recently seen first: first and last time seen, count, text."""
    ordered = sorted(hints, key=lambda hint: hint.wall, reverse=True)
    if not ordered:
        return Text("No trap spotted yet.", style="dim")
    table = Table(box=None, padding=(0, 1), expand=True)
    table.add_column("first", style="dim", no_wrap=True)
    table.add_column("last", no_wrap=True)
    table.add_column("×", justify="right", style="bold", no_wrap=True)
    table.add_column("hint", ratio=1)
    for hint in ordered:
        table.add_row(_clock(hint.first), _clock(hint.wall), str(hint.count), Text(hint.text))
    return table


class HintsScreen(ModalScreen[None]):
    """Every hint seen so far, as of opening; Escape or q closes it."""

    DEFAULT_CSS = """
    HintsScreen { align: center middle; }
    HintsScreen > VerticalScroll { width: 96%; max-width: 120; height: 90%; border: thick $warning; background: $surface; }
    HintsScreen Static { padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "dismiss", "Close")]

    def __init__(self, hints: Iterable[Hint]) -> None:
        super().__init__()
        self._table = hints_table(hints)

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = "Hints seen"
            yield Static(self._table)
