"""Looking into a running mule without stopping it: its live stacks (``w``) and a Python prompt in
its namespace (``e``). Both ask the mule's agent (:mod:`muletui.engine.agents`) and show what it
answers, or why it did not (the mule exited, or took too long)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from muletui.console.widgets.prompt import TRANSCRIPT_LINES, HistoryInput, Transcript
from muletui.engine.agents import MuleGoneError
from muletui.ipc.agent_wire import EvalResult, ThreadStack

EVAL_TIMEOUT = 10.0  # seconds an evaluation may take before the prompt stops waiting for it


def stacks_text(stacks: tuple[ThreadStack, ...], internal: bool) -> Text:
    """Each thread's frames, most recent call last (as a traceback); muletui's own frames are
    counted instead of shown unless ``internal``."""
    parts: list[Text] = []
    for stack in stacks:
        title = Text.assemble((stack.name, "bold cyan"), " (main thread)" if stack.main else "")
        parts.append(title)
        frames = [frame for frame in stack.frames if internal or not frame.internal]
        hidden = len(stack.frames) - len(frames)
        if hidden:
            parts.append(Text(f"  ({hidden} frame{'s' * (hidden != 1)} of muletui and the interpreter hidden: i shows them)",
                              style="dim"))
        for number, frame in enumerate(frames, 1):
            last = number == len(frames)
            where = Text.assemble("  ", (f"{frame.file}:{frame.line}", "bold" if last else ""), f" in {frame.function}")
            if frame.internal:
                where.stylize("dim")
            parts.append(where)
            if frame.source:
                parts.append(Text(f"      {frame.source}", style="yellow" if last else "dim"))
        parts.append(Text(""))
    if not stacks:
        parts.append(Text("no thread with a Python frame", style="dim"))
    return Text("\n").join(parts)


class StacksScreen(ModalScreen[None]):
    """The live stack of every thread of one mule, taken as the screen opens and on ``w``/``r``."""

    DEFAULT_CSS = """
    StacksScreen { align: center middle; }
    StacksScreen > VerticalScroll { width: 96%; height: 90%; border: thick $primary; background: $surface; }
    StacksScreen Static { padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "dismiss", "Close"),
        Binding("w,r", "refresh_stacks", "Refresh"),
        Binding("i", "toggle_internal", "muletui's frames"),
    ]

    def __init__(self, mule_id: int, fetch: Callable[[], Awaitable[tuple[ThreadStack, ...]]]) -> None:
        super().__init__()
        self.mule_id = mule_id
        self._fetch = fetch
        self._stacks: tuple[ThreadStack, ...] | None = None
        self._internal = False
        self._body = Static(Text("asking the mule…", style="dim"), id="stacks")

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = f"where is mule {self.mule_id}"
            scroll.border_subtitle = "w: again · i: muletui's frames · Esc: close"
            yield self._body

    def on_mount(self) -> None:
        self.action_refresh_stacks()

    @work(exclusive=True)
    async def action_refresh_stacks(self) -> None:
        try:
            self._stacks = await self._fetch()
        except MuleGoneError as error:
            self._body.update(Text(str(error), style="bold red"))
            return
        except TimeoutError:
            self._body.update(Text(f"mule {self.mule_id} did not answer in time", style="bold red"))
            return
        self._show()

    def action_toggle_internal(self) -> None:
        self._internal = not self._internal
        self._show()

    def _show(self) -> None:
        if self._stacks is not None:
            self._body.update(stacks_text(self._stacks, self._internal))


class EvalScreen(ModalScreen[None]):
    """A Python prompt in one mule's namespace, while the mule runs on; ``transcript`` and
    ``history`` are the caller's, so they are there again the next time."""

    DEFAULT_CSS = """
    EvalScreen { align: center middle; }
    EvalScreen > #eval-box { width: 96%; height: 90%; border: thick $primary; background: $surface; }
    EvalScreen Transcript { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss", "Close")]

    def __init__(
        self,
        mule_id: int,
        where: str,
        evaluate: Callable[[str], Awaitable[EvalResult]],
        transcript: list[str],
        history: list[str],
    ) -> None:
        super().__init__()
        self.mule_id = mule_id
        self._where = where
        self._evaluate = evaluate
        self._said = transcript
        self.transcript = Transcript(id="eval-transcript")
        self.prompt = HistoryInput(history, placeholder=">>> an expression or a statement (↑ ↓ history, Esc closes)",
                                   id="eval-input")

    def compose(self) -> ComposeResult:
        with Vertical(id="eval-box") as box:
            box.border_title = f"Python in mule {self.mule_id} · {self._where}"
            box.border_subtitle = "the mule keeps running · Esc: close"
            yield self.transcript
            yield self.prompt

    def on_mount(self) -> None:
        if self._said:
            self.transcript.say("".join(self._said))
        self.prompt.focus()

    def _say(self, text: str) -> None:
        self._said.append(text)
        del self._said[:-TRANSCRIPT_LINES]  # kept as long as the widget keeps lines
        self.transcript.say(text)

    @on(Input.Submitted, "#eval-input")
    def _submitted(self, event: Input.Submitted) -> None:
        source = event.value
        self.prompt.remember(source)
        self.prompt.value = ""
        if source.strip():
            self._say(f">>> {source}\n")
            self._run(source)

    @work(group="eval")
    async def _run(self, source: str) -> None:
        try:
            result = await self._evaluate(source)
        except MuleGoneError as error:
            self._say(f"{error}\n")
            return
        except TimeoutError:
            self._say(f"no answer in {EVAL_TIMEOUT:.0f} s: interrupted in the mule (KeyboardInterrupt; work in C "
                      "that holds the GIL cannot be interrupted, and holds up the mule until it ends)\n")
            return
        if result.text:
            self._say(result.text + "\n")
