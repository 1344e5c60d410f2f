"""The request key: one request to the stack's first socket, typed as ``GET /path``, so a class
sees a request become a mule message without a second terminal."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from muletui.console.widgets.prompt import HistoryInput

METHODS = ("GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS")


def parse_request(line: str) -> tuple[str, str] | None:
    """``GET /x?y=1`` → ``("GET", "/x?y=1")``; a bare path is a GET; ``None`` if it is neither."""
    words = line.split()
    if len(words) == 1 and words[0].startswith("/"):
        return "GET", words[0]
    if len(words) == 2 and words[0].upper() in METHODS and words[1].startswith("/"):
        return words[0].upper(), words[1]
    return None


class RequestScreen(ModalScreen[tuple[str, str] | None]):
    """Asks for ``METHOD /path``; Enter sends it (dismissing with the pair), Escape cancels."""

    DEFAULT_CSS = """
    RequestScreen { align: center middle; }
    RequestScreen > Vertical { width: 80; height: auto; border: thick $primary; background: $surface; padding: 0 1; }
    RequestScreen Static { height: auto; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss", "Cancel")]

    def __init__(self, where: str, history: list[str]) -> None:
        super().__init__()
        self._where = where
        self._history = history
        self._said = Static(Text(f"to {where} · Enter sends · ↑ ↓ history · Esc cancels", style="dim"))

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "send a request to the stack"
            yield self._said
            yield HistoryInput(self._history, placeholder="GET /path (or POST /path …)", id="request-line")

    def on_mount(self) -> None:
        self.query_one(HistoryInput).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        request = parse_request(event.value)
        if request is None:
            self._said.update(Text("type a method and a path: GET /hello, or just /hello", style="bold red"))
            return
        self.query_one(HistoryInput).remember(event.value)
        self.dismiss(request)
