"""A program on a fresh pseudo-terminal, as a person's terminal runs it, and what its screen shows.

``console_pty.py`` runs the console with it. :class:`Terminal` reads the program's output as it
comes (so the program never blocks writing) and stamps each chunk with its arrival time;
:class:`Screen` feeds the chunks to a terminal emulator (pyte) and tells when the screen first
showed something. Nothing here knows muletui.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import queue
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from common import alive, cpu_seconds, descendants

COLUMNS, ROWS = 140, 45
CLOSE_GRACE = 5.0  # s between closing the terminal and killing what is left
START_TIMEOUT = 60.0  # s for the program to start what it starts
SWITCH_INTERVAL = 0.001  # s: the reader thread gets the GIL back from the emulator this soon
TAIL_BYTES = 4096  # of the latest output, kept for error messages


class Screen:
    """What the terminal shows (a pyte screen fed with the program's output), and when it first
    showed what :meth:`expect` waits for.

    :meth:`feed` runs in one thread; the other methods in another. A check given to
    :meth:`expect` runs under the screen's lock, after each chunk of output, so it must be cheap:
    :meth:`shows` looks at a few rows only.
    """

    def __init__(self) -> None:
        import pyte  # noqa: PLC0415 - an optional dependency (the bench extra): only the screen needs it

        self._screen = pyte.Screen(COLUMNS, ROWS)
        self._stream = pyte.ByteStream(self._screen)
        self._lock = threading.Lock()
        self._wanted: Callable[[], bool] | None = None
        self._shown_at = 0.0
        self._shown = threading.Event()

    def feed(self, data: bytes, at: float) -> None:
        """Apply output read at ``at`` (``perf_counter``); if the screen now shows what is
        expected, that is the moment it showed."""
        with self._lock:
            self._stream.feed(data)
            if self._wanted is not None and self._wanted():
                self._wanted = None
                self._shown_at = at
                self._shown.set()

    def _row(self, y: int) -> str:
        line = self._screen.buffer[y]
        return "".join(line[x].data for x in range(COLUMNS))

    def find(self, text: str) -> int | None:
        """The first row showing ``text``, or ``None``."""
        with self._lock:
            return next((y for y in range(ROWS) if text in self._row(y)), None)

    def shows(self, text: str, rows: Iterable[int]) -> Callable[[], bool]:
        """A check for :meth:`expect`: one of ``rows`` shows ``text``."""
        within = [y for y in rows if 0 <= y < ROWS]
        return lambda: any(text in self._row(y) for y in within)

    def expect(self, shown: Callable[[], bool]) -> None:
        """Wait for ``shown`` from now on; raises if it holds already."""
        with self._lock:
            if shown():
                raise RuntimeError(f"on screen before it was asked for:\n{self._text()}")
            self._shown.clear()
            self._wanted = shown

    def wait(self, timeout: float) -> float | None:
        """When the expected screen arrived (``perf_counter``), or ``None`` after ``timeout``."""
        if not self._shown.wait(timeout):
            with self._lock:
                self._wanted = None
            return None
        return self._shown_at

    def _text(self) -> str:
        return "\n".join(self._row(y).rstrip() for y in range(ROWS))

    def text(self) -> str:
        """The whole screen, for an error message."""
        with self._lock:
            return self._text()


class Terminal:
    """``argv`` in ``workdir`` on a fresh pseudo-terminal of ``COLUMNS×ROWS``, ``TERM=xterm-256color``.

    Its output is read as it comes and counted; with a ``screen`` it is also fed to that
    emulator, by a second thread, so each chunk's arrival time is taken when it is read, not
    when the emulator gets to it. Leaving the ``with`` block closes the terminal (a program
    that notices ends) and kills, by pid, whatever of the program and its descendants is still
    alive ``CLOSE_GRACE`` seconds later. It lowers this process's GIL switch interval meanwhile.
    """

    def __init__(
        self, argv: Sequence[str], workdir: Path, env: Mapping[str, str], screen: Screen | None = None
    ) -> None:
        self.screen = screen
        self.output_bytes = 0
        self._argv = list(argv)
        self._workdir = workdir
        self._env = env
        self._controller = -1
        self._process: subprocess.Popen[bytes] | None = None
        self._known: set[int] = set()
        self._threads: list[threading.Thread] = []
        self._chunks: queue.SimpleQueue[tuple[float, bytes] | None] = queue.SimpleQueue()
        self._tail = b""
        self._wake_r, self._wake_w = os.pipe()  # stops the reader before the terminal is closed
        self._switch_interval = sys.getswitchinterval()

    def __enter__(self) -> Self:
        self._controller, terminal = pty.openpty()
        try:
            fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
            env = {key: value for key, value in self._env.items() if key not in ("COLUMNS", "LINES")}
            env["TERM"] = "xterm-256color"
            # Its own session, as a terminal emulator starts a shell: keys reach it only as
            # bytes on the terminal, and this script's Ctrl-C does not.
            self._process = subprocess.Popen(
                self._argv, stdin=terminal, stdout=terminal, stderr=terminal, cwd=self._workdir,
                env=env, start_new_session=True,
            )
        except BaseException:
            for fd in (self._controller, self._wake_r, self._wake_w):
                os.close(fd)
            raise
        finally:
            os.close(terminal)
        sys.setswitchinterval(SWITCH_INTERVAL)
        self._start_thread(self._read, "pty-reader")
        if self.screen is not None:
            self._start_thread(self._parse, "pty-screen")
        return self

    def _start_thread(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _read(self) -> None:
        poller = select.poll()
        poller.register(self._controller, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        try:
            while all(fd != self._wake_r for fd, _mask in poller.poll()):
                try:
                    data = os.read(self._controller, 65536)
                except OSError:  # EIO: the program and everything else let go of the terminal
                    return
                if not data:
                    return
                at = time.perf_counter()
                self.output_bytes += len(data)
                self._tail = (self._tail + data)[-TAIL_BYTES:]
                if self.screen is not None:
                    self._chunks.put((at, data))
        finally:
            self._chunks.put(None)

    def _parse(self) -> None:
        assert self.screen is not None
        while (chunk := self._chunks.get()) is not None:
            self.screen.feed(chunk[1], chunk[0])

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def running(self) -> bool:
        assert self._process is not None
        return self._process.poll() is None

    def tail(self) -> str:
        """The latest output, as text (escape sequences and all), for an error message."""
        return self._tail.decode("utf-8", "replace")

    def tree(self) -> list[int]:
        """The program and its live descendants; remembered for the final cleanup."""
        pids = [self.pid, *descendants(self.pid)]
        self._known.update(pids)
        return pids

    def cpu(self) -> tuple[float, float]:
        """CPU seconds so far of the program, and of its live descendants together."""
        program, *others = self.tree()
        spent = 0.0
        for pid in others:
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                spent += cpu_seconds(pid)
        return cpu_seconds(program), spent

    def press(self, key: str) -> float:
        """Type ``key`` on the terminal; returns when it was written (``perf_counter``)."""
        sent = time.perf_counter()
        os.write(self._controller, key.encode())
        return sent

    def wait_descendants(self, count: int) -> None:
        """Until the program has ``count`` live descendants or more; raises if it exits first."""
        deadline = time.monotonic() + START_TIMEOUT
        while len(self.tree()) <= count:
            if not self.running():
                raise RuntimeError(f"exited ({self._process.returncode}) early; its output ended:\n{self.tail()}")  # type: ignore[union-attr]
            if time.monotonic() > deadline:
                raise RuntimeError(f"not {count} descendants after {START_TIMEOUT:.0f} s")
            time.sleep(0.05)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        held: list[int] = []  # a Ctrl-C during the cleanup must not cut it short
        previous = signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
        try:
            self._close()
        finally:
            signal.signal(signal.SIGINT, previous)
            sys.setswitchinterval(self._switch_interval)
        if held and kind is None and previous is signal.default_int_handler:
            raise KeyboardInterrupt

    def _close(self) -> None:
        assert self._process is not None
        if self.running():
            self.tree()
        os.write(self._wake_w, b"x")
        for thread in self._threads:  # the reader ends, then the emulator's thread after it
            thread.join(CLOSE_GRACE)
        for fd in (self._controller, self._wake_r, self._wake_w):
            os.close(fd)  # the terminal is gone: the program sees a hang-up
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(CLOSE_GRACE)
        if self.running():
            self._process.kill()
            self._process.wait()
        others = self._known - {self.pid}
        for pid in others:
            if alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + CLOSE_GRACE
        while any(alive(pid) for pid in others) and time.monotonic() < deadline:
            time.sleep(0.02)
