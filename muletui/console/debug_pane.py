"""A mule's debugger pane: where the mule stopped, the source around it, and its ``(Pdb)``
prompt. One pane per mule that has stopped, kept across its stops (``n``, ``s``, ``c`` into the
next breakpoint) and its restarts, so the transcript reads as one terminal session would."""

from __future__ import annotations

import linecache
import os
from collections.abc import Callable

from rich.syntax import Syntax
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.widgets import Input, Static, TabPane

from muletui.console.widgets.prompt import HistoryInput, Transcript
from muletui.engine import events

SOURCE_AROUND = 4  # lines shown above and below the line a mule stopped at


def pane_id(mule_id: int) -> str:
    return f"tab-debug-{mule_id}"


def source_around(path: str, line: int, around: int = SOURCE_AROUND) -> Syntax | Text:
    """The lines of ``path`` around ``line``, numbered, that line highlighted (as pdb's ``l``)."""
    first = max(1, line - around)
    lines = [linecache.getline(path, number) for number in range(first, line + around + 1)]
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        return Text(f"(no source for {path})", style="dim")
    return Syntax(
        "".join(lines), "python", line_numbers=True, start_line=first, highlight_lines={line},
        theme="ansi_dark", word_wrap=False,
    )


class DebugPane(TabPane):
    """The ``(Pdb)`` prompt of one mule, in the console's tabs; Enter sends the line to the mule."""

    DEFAULT_CSS = """
    DebugPane { layout: vertical; }
    DebugPane > .debug-where { height: auto; padding: 0 1; background: $boost; }
    DebugPane > .debug-source { height: auto; max-height: 11; border: round $primary-background; }
    DebugPane > Transcript { height: 1fr; border: round $primary-background; }
    """

    def __init__(self, mule_id: int, base_dir: str, history: list[str], send: Callable[[str], bool]) -> None:
        """``base_dir``: where the mules run (``--chdir``), against which a relative file is read;
        ``send``: gives a line to the mule's prompt, ``False`` if no prompt waits."""
        super().__init__(f"Pdb {mule_id}", id=pane_id(mule_id))
        self.mule_id = mule_id
        self._base_dir = base_dir
        self._send = send
        self.stop: events.DebuggerStopped | None = None
        self.transcript = Transcript(id=f"debug-transcript-{mule_id}")
        self.prompt = HistoryInput(
            history, placeholder="pdb: p EXPR, n, s, w, l, c … (Enter sends, ↑ ↓ history, Esc back)",
            id=f"debug-input-{mule_id}",
        )
        self.prompt.add_class("debug-prompt")
        self._where = Static("", classes="debug-where")
        self._source = Static("", classes="debug-source")

    def compose(self) -> ComposeResult:
        yield self._where
        yield self._source
        yield self.transcript
        yield self.prompt

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        line = event.value
        self.prompt.remember(line)
        self.prompt.value = ""
        if self._send(line):
            self.transcript.say(line + "\n")
        else:
            self.transcript.say(f"\n(mule {self.mule_id} is not at its prompt: it runs)\n")

    def stopped(self, stop: events.DebuggerStopped) -> None:
        """The mule's debugger waits at ``stop``: say where, and show the source there."""
        self.stop = stop
        what = "post-mortem after an uncaught exception" if stop.post_mortem else "stopped"
        where = Text.assemble(
            (f"mule {stop.mule_id} ", "bold"), (what, "bold yellow reverse"),
            f" at {stop.file}:{stop.line} in {stop.function}() · thread {stop.thread}",
        )
        notes = ["Esc: back to the console (the mule stays stopped) · d: back here", "harakiri waits meanwhile"]
        if stop.post_mortem:
            notes.append("c or q lets it exit and respawn")
        where.append("\n" + " · ".join(notes), style="dim")
        self._where.update(where)
        path = stop.file if os.path.isabs(stop.file) else os.path.join(self._base_dir, stop.file)
        linecache.checkcache(path)  # a file saved since it was last read
        self._source.update(source_around(path, stop.line))

    def resumed(self) -> None:
        """The mule left its prompt (``c``, or it exited): it runs, the pane stays for the record."""
        self.stop = None
        self._where.update(Text.assemble((f"mule {self.mule_id} ", "bold"), ("running", "bold green"),
                                         " · its next breakpoint opens this pane again"))
