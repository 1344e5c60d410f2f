"""Capture of a process's stdout/stderr: 64 KiB reads, split into lines by us, stamped at capture.

Binary junk is decoded with replacement characters; a line longer than :data:`MAX_LINE` is cut
into several, so neither can stall or exhaust the reader. A pipe that stays busy (more than
:data:`BURST` reads in a row, each within :data:`PACE` of the last) is then read at most once per
:data:`PACE`, so a process writing a line at a time (a worker's request lines) costs the event
loop one wake-up per batch, not one per line; a short burst (a traceback, start-up lines) is
read as it comes, in step with the other pipes and the master's own lines.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable

from muletui.engine.events import OutputLine

READ_SIZE = 65536
MAX_LINE = 65536
#: Seconds a pipe that was just read waits before the next read, once reads come closer than
#: this: lines then arrive in batches up to this late, and a pipe (64 KiB) fills only above
#: 13 MB/s, far beyond what a terminal or the console shows.
PACE = 0.005
#: Reads in a row, each within :data:`PACE` of the previous one, before a pipe is paced.
BURST = 8


class LineSplitter:
    """Turns chunks of bytes into complete lines, keeping the partial tail for the next chunk."""

    def __init__(self) -> None:
        self._tail = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        data = self._tail + chunk if self._tail else chunk
        lines = data.split(b"\n")
        self._tail = lines.pop()
        while len(self._tail) > MAX_LINE:
            lines.append(self._tail[:MAX_LINE])
            self._tail = self._tail[MAX_LINE:]
        return lines

    def flush(self) -> list[bytes]:
        """The unterminated last line, if any (at end of stream)."""
        tail, self._tail = self._tail, b""
        return [tail] if tail else []


def _decode(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace")
    return text.removesuffix("\r")


#: Reads :meth:`PipeReader.drain` makes at most: a pipe holds 1 MiB at the most (Linux's
#: ``pipe-max-size``), so this is all a process that exited can have left in it.
DRAIN_READS = (1 << 20) // READ_SIZE


class PipeReader:
    """Reads one pipe on the event loop and hands each batch of lines to ``on_lines``.

    ``on_eof`` runs once the writer side is closed everywhere and the tail was delivered.
    """

    def __init__(
        self,
        fd: int,
        on_lines: Callable[[tuple[OutputLine, ...]], None],
        on_eof: Callable[[], None],
    ) -> None:
        self._fd = fd
        self._on_lines = on_lines
        self._on_eof = on_eof
        self._splitter = LineSplitter()
        self._loop = asyncio.get_running_loop()
        os.set_blocking(fd, False)
        self._loop.add_reader(fd, self._on_readable)
        self._last_read = float("-inf")
        self._quick_reads = 0  # reads in a row, each within PACE of the previous one
        self._resume: asyncio.TimerHandle | None = None
        self.sibling: PipeReader | None = None  # the same process's other stream (see paired)
        self.closed = False

    def _on_readable(self) -> None:
        """The loop's callback: read, and pause the pipe for :data:`PACE` once it stays busy."""
        if self.sibling is not None and self.sibling._resume is not None:
            self.sibling.drain()  # what the paced other stream holds was (mostly) written first
        if self._readable():
            now = self._loop.time()
            self._quick_reads = self._quick_reads + 1 if now - self._last_read < PACE else 0
            self._last_read = now
            if self._quick_reads >= BURST and not self.closed:
                self._loop.remove_reader(self._fd)
                self._resume = self._loop.call_later(PACE, self._resumed)

    def _resumed(self) -> None:
        self._resume = None
        self._last_read = self._loop.time()  # a read now continues the busy run: paced again
        self._loop.add_reader(self._fd, self._on_readable)

    def _readable(self) -> bool:
        """Read once; ``False`` if the pipe was empty or is at its end."""
        try:
            chunk = os.read(self._fd, READ_SIZE)
        except BlockingIOError:
            return False
        if chunk:
            self._deliver(self._splitter.feed(chunk))
            return True
        self._deliver(self._splitter.flush())
        self.close()
        self._on_eof()
        return False

    def drain(self) -> None:
        """Deliver now what the pipe holds, and its unterminated last line if no writer is left.

        For when the writer is known to have exited: its last lines then come before the
        news of its exit, whatever order the event loop would have read them in.
        """
        for _ in range(DRAIN_READS):
            if self.closed or not self._readable():
                return

    def _deliver(self, raw_lines: list[bytes]) -> None:
        if raw_lines:
            now, wall = time.monotonic(), time.time()
            self._on_lines(tuple(OutputLine(now, wall, _decode(raw)) for raw in raw_lines))

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self._resume is not None:
                self._resume.cancel()
            self._loop.remove_reader(self._fd)
            os.close(self._fd)


def paired(out: PipeReader, err: PipeReader) -> tuple[PipeReader, PipeReader]:
    """``(out, err)``, one process's two streams, made to keep their order as far as two pipes
    can: before either is read, what a paced other one holds is delivered first."""
    out.sibling, err.sibling = err, out
    return out, err
