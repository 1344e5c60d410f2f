"""Textual's drivers, told that the person at the console can go away.

Textual's Linux driver spins on end of file when its terminal is closed (its input thread
reads ``b''`` in a loop), and its writer thread dies on the first EIO, after which the app's
next writes block for good. Its web driver's input ends quietly when the browser leaves, and
the app runs on unseen. These subclasses turn each of those into one :class:`UserGone`
message, so the console stops its stack and exits.
"""

from __future__ import annotations

import os
import select
import threading
from collections.abc import Callable
from typing import IO, Any

from textual.drivers.linux_driver import LinuxDriver
from textual.drivers.web_driver import WebDriver
from textual.message import Message


class UserGone(Message):
    """The terminal or the browser showing the console is gone: nobody can see or drive it."""

    def __init__(self, why: str) -> None:
        super().__init__()
        self.why = why


class _TerminalOutput:
    """The terminal's output file for Textual's writer thread: a dead terminal is reported
    once, and what is written after it is dropped instead of raising."""

    def __init__(self, file: IO[str], gone: threading.Event, on_gone: Callable[[], None]) -> None:
        self._file = file
        self._gone = gone
        self._on_gone = on_gone

    def write(self, text: str) -> None:
        if not self._gone.is_set():
            try:
                self._file.write(text)
            except OSError:
                self._on_gone()

    def flush(self) -> None:
        if not self._gone.is_set():
            try:
                self._file.flush()
            except OSError:
                self._on_gone()

    def fileno(self) -> int:
        return self._file.fileno()


class TerminalDriver(LinuxDriver):
    """The Linux driver, plus a thread that sleeps in ``poll`` until the terminal hangs up."""

    def __init__(self, app: Any, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._gone = threading.Event()
        assert self._file is not None  # the process's stderr: the terminal Textual draws on
        self._file = _TerminalOutput(self._file, self._gone, self._terminal_gone)  # type: ignore[assignment]
        self._watcher: tuple[threading.Thread, int] | None = None  # the thread and its wake-up pipe

    def start_application_mode(self) -> None:
        """Also on resume after Ctrl+Z: each application mode gets its own watcher and pipe."""
        super().start_application_mode()
        wake_r, wake_w = os.pipe()
        thread = threading.Thread(target=self._watch_hangup, args=(wake_r,), name="muletui-hangup", daemon=True)
        self._watcher = (thread, wake_w)
        thread.start()

    def stop_application_mode(self) -> None:
        if self._watcher is not None:
            thread, wake_w = self._watcher
            self._watcher = None
            os.write(wake_w, b"x")
            thread.join()
            os.close(wake_w)
        super().stop_application_mode()

    def _watch_hangup(self, wake_r: int) -> None:
        poller = select.poll()
        poller.register(self.fileno, 0)  # nothing asked: only a hang-up or an error wakes it
        poller.register(wake_r, select.POLLIN)
        try:
            for fd, _mask in poller.poll():
                if fd == self.fileno:
                    self._terminal_gone()
        finally:
            os.close(wake_r)

    def _terminal_gone(self) -> None:
        if not self._gone.is_set():
            self._gone.set()
            self.exit_event.set()  # the input thread would spin on end of file
            self.send_message(UserGone("the terminal is gone"))


class BrowserDriver(WebDriver):
    """The web driver (``--serve``): the end of its input, or a broken output pipe, means the
    browser (or the server) is gone."""

    def __init__(self, app: Any, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._gone = threading.Event()
        write = self._write

        def guarded_write(data: bytes) -> int:
            if self._gone.is_set():
                return len(data)
            try:
                return write(data)
            except OSError:
                self._browser_gone()
                return len(data)

        self._write = guarded_write  # type: ignore[assignment]

    def run_input_thread(self) -> None:
        try:
            super().run_input_thread()
        finally:
            self._browser_gone()

    def _browser_gone(self) -> None:
        if not self._gone.is_set():
            self._gone.set()
            if not self._loop.is_closed():  # the input ends after the app, when it quits itself
                self.send_message(UserGone("the browser is gone"))
