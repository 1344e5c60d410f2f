"""A prompt and its transcript, as a terminal shows them: the debugger pane's ``(Pdb)`` and the
Python prompt of a running mule share these."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import Input, Log

TRANSCRIPT_LINES = 5_000  # a long debugging session keeps its last lines


class Transcript(Log):
    """What was typed and answered, in order; text that arrives before the widget is mounted
    (a mule's debugger speaks as its pane is being built) is kept and shown once it is."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(max_lines=TRANSCRIPT_LINES, highlight=False, id=id)
        self._early: list[str] = []

    def say(self, text: str) -> None:
        """Append ``text`` as it is (a prompt without its newline stays on its line)."""
        if self.is_mounted:
            self.write(text)
        else:
            self._early.append(text)

    def on_mount(self) -> None:
        if self._early:
            self.write("".join(self._early))
            self._early.clear()


class HistoryInput(Input):
    """A one-line prompt with a history: ↑ and ↓ walk through the lines entered before.

    ``history`` is the caller's list, so it outlives the widget (a pane closed and opened again
    keeps its lines); what was being typed when ↑ was pressed comes back at the bottom.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "history(-1)", "Earlier line", show=False),
        Binding("down", "history(1)", "Later line", show=False),
    ]

    def __init__(self, history: list[str], *, placeholder: str = "", id: str | None = None) -> None:  # noqa: A002
        super().__init__(placeholder=placeholder, id=id)
        self.history = history
        self._position = len(history)
        self._draft = ""

    def remember(self, line: str) -> None:
        """``line`` was entered: it becomes the newest line of the history (once in a row)."""
        if line.strip() and (not self.history or self.history[-1] != line):
            self.history.append(line)
        self._position = len(self.history)
        self._draft = ""

    def action_history(self, step: int) -> None:
        if self._position == len(self.history):
            self._draft = self.value
        position = min(max(self._position + step, 0), len(self.history))
        if position == self._position:
            return
        self._position = position
        self.value = self.history[position] if position < len(self.history) else self._draft
        self.cursor_position = len(self.value)
