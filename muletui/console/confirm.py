"""A one-key confirmation for destructive keys, as htop and supervisorctl ask."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.screen import ModalScreen
from textual.widgets import Static


class ConfirmScreen(ModalScreen[bool]):
    """Asks ``question``; ``y``, Enter or the action's own key confirm, any other key cancels."""

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Static { width: auto; max-width: 90%; padding: 1 2; border: thick $warning; background: $surface; }
    """

    def __init__(self, question: str, key: str) -> None:
        super().__init__()
        self._question = question
        self._key = key
        self._keys = {"y", "enter", key}

    def compose(self) -> ComposeResult:
        text = Text(self._question, style="bold")
        text.append(f"\n\n{self._key} or y: yes · any other key: no", style="dim")
        yield Static(text)

    def on_key(self, event: events.Key) -> None:
        event.stop()
        event.prevent_default()
        self.dismiss(event.key in self._keys)

    def on_click(self) -> None:
        self.dismiss(False)
