"""The help screen: every key, and the traps the console explains."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

TRAPS = """
## uWSGI traps muletui points out

- `mule_get_msg()` with the default `signals=True` does **not** take signals (the flag is
  inverted in uWSGI 2.0): they pile up and arrive later, one per `signals=False` call.
- An id-less `mule_msg()` goes to whichever mule reads the shared queue first, signal-mode mules
  included, which hand it to `mule_msg_hook` or drop it.
- A programmed mule that returns is respawned forever; muletui backs off and says so.
- Messages longer than `buffer_size` are truncated; a full queue makes `mule_msg()` return False.
"""


class HelpScreen(ModalScreen[None]):
    """Keys and traps; Escape or ? closes it."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 80%; height: 80%; border: thick $primary; background: $surface; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,question_mark,q", "dismiss", "Close")]

    def __init__(self, bindings: list[BindingType]) -> None:
        super().__init__()
        self._keys = [b for b in bindings if isinstance(b, Binding)]

    def compose(self) -> ComposeResult:
        rows = "\n".join(f"| `{b.key}` | {b.description} |" for b in self._keys)
        keys = (
            "# muletui keys\n\n| key | action |\n|---|---|\n"
            + rows
            + "\n| `ctrl+p` | command palette: every mule, signal and message command |"
            + "\n| `tab` | move between the mule table, the tabs and the log |\n"
        )
        with VerticalScroll():
            yield Markdown(keys + TRAPS)
