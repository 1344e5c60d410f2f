"""The wire between the master and a mule's agent: what each end may say, and the data it carries.

One ``SOCK_SEQPACKET`` socket pair per mule incarnation; each datagram is one pickled tuple
(both ends are muletui's own processes).

master → mule: ``("input", line)`` a line typed at the mule's ``(Pdb)`` prompt,
``("stacks", request)``, ``("eval", request, source)``, ``("post_mortem", on)``.

mule → master: ``("stopped", Stop)`` the mule's debugger waits at a prompt, ``("running",)``
it left the prompt, ``("output", text)`` what the debugger printed, ``("reply", request,
payload)`` the answer to a request (a tuple of :class:`ThreadStack` or an :class:`EvalResult`).
"""

from __future__ import annotations

from muletui.record import record

#: Largest datagram either end reads (under the socket's default 208 KiB send buffer, above
#: which a send fails with EMSGSIZE).
MAX_DATAGRAM = 128 * 1024
#: Longest text (debugger output, an evaluation's answer) carried in one datagram: at most
#: 4 bytes a character in UTF-8, with room for the pickle around it.
TEXT_LIMIT = 24 * 1024


@record
class Stop:
    """Where a mule's debugger stopped: file, line and function of the frame, and the thread."""

    file: str
    line: int
    function: str
    thread: str
    post_mortem: bool = False

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@record
class StackFrame:
    """One frame of a live stack; ``internal`` marks muletui's and the interpreter's own frames."""

    file: str
    line: int
    function: str
    source: str
    internal: bool = False


@record
class ThreadStack:
    """One thread of a mule, outermost frame first."""

    name: str
    main: bool
    frames: tuple[StackFrame, ...]


@record
class EvalResult:
    """What a line typed at a mule's prompt gave: the value's repr, or the error (``ok`` False)."""

    ok: bool
    text: str


def clip(text: str, limit: int = TEXT_LIMIT) -> str:
    """``text``, cut to ``limit`` characters with a note of how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n… {len(text) - limit:,} more characters not shown"
