"""pdb in a mule, with its prompt in the console: what it prints goes to the master over the
mule's agent socket, and the lines it reads are the ones typed in the mule's debugger pane.

Imported only when a mule reaches a breakpoint (pdb costs ~16 ms to import).
"""

from __future__ import annotations

import pdb  # noqa: T100 - running pdb in a mule is this module's job
import threading
from types import FrameType, TracebackType

from muletui.ipc.agent_wire import TEXT_LIMIT, Stop
from muletui.stack.agent import MuleAgent

#: Most characters one command's answer may send to the pane (``p list(range(10**6))`` would send
#: 7 MB); the rest is counted, and the prompt still comes.
ANSWER_LIMIT = 64 * 1024


class _Pane:
    """pdb's stdin and stdout: text goes to the mule's pane, lines come from it."""

    encoding = "utf-8"
    errors = "backslashreplace"

    def __init__(self, agent: MuleAgent) -> None:
        self._agent = agent
        self._sent = 0  # characters sent since the last line was read
        self._held = 0  # characters over ANSWER_LIMIT since then, not sent
        self._last = ""  # the last text written: the prompt, when a line is read next

    def write(self, text: str) -> int:
        room = max(0, ANSWER_LIMIT - self._sent)
        shown = text[:room]
        for start in range(0, len(shown), TEXT_LIMIT):
            self._agent.send("output", shown[start : start + TEXT_LIMIT])
        self._sent += len(shown)
        self._held += len(text) - len(shown)
        self._last = text[-200:]
        return len(text)

    def flush(self) -> None:
        pass

    def readline(self) -> str:
        if self._held:  # the answer was cut, and the prompt with it: say so, then prompt again
            self._agent.send("output", f"\n… {self._held:,} more characters not shown\n{self._last}")
        self._sent = self._held = 0
        return self._agent.lines.get()  # "" once the master is gone: pdb's end of file

    def isatty(self) -> bool:
        return False


class MuleDebugger(pdb.Pdb):
    """A pdb that tells the master where it stops and holds the mule's debugger while it waits.

    ``nosigint``: pdb must not take SIGINT from the mule, whose stop it is (uWSGI's mules keep
    pdb's handler after a ``c`` and then ignore the master's stop).
    """

    def __init__(self, agent: MuleAgent, *, post_mortem: bool = False) -> None:
        pane = _Pane(agent)
        super().__init__(stdin=pane, stdout=pane, nosigint=True)  # type: ignore[arg-type]  # file enough for pdb
        self._agent = agent
        self._post_mortem = post_mortem

    def interaction(self, frame: FrameType | None, traceback: TracebackType | None) -> None:
        where, line = frame, frame.f_lineno if frame is not None else 0
        last = traceback
        while frame is None and last is not None:  # post-mortem: the frame that raised
            where, line = last.tb_frame, last.tb_lineno
            last = last.tb_next
        assert where is not None, "pdb stops in a frame or at a traceback"
        code = where.f_code
        stop = Stop(code.co_filename, line, code.co_name, threading.current_thread().name, self._post_mortem)
        with self._agent.debugger_turn(stop):
            super().interaction(frame, traceback)


def set_trace(agent: MuleAgent, frame: FrameType, header: str | None) -> None:
    """Stop at the next line of ``frame`` (pdb's ``set_trace``)."""
    debugger = MuleDebugger(agent)
    if header is not None:
        debugger.message(header)
    debugger.set_trace(frame)


def post_mortem(agent: MuleAgent, traceback: TracebackType) -> None:
    """Inspect the frames of ``traceback`` until the user continues or quits (pdb's post-mortem)."""
    debugger = MuleDebugger(agent, post_mortem=True)
    debugger.reset()
    debugger.interaction(None, traceback)
