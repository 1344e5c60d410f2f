"""Records of a run on disk, fed by the event bus: ``--events`` (JSON Lines) and ``--log-file``.

Both are bus *sinks*: called inline for every event, they see everything (no drop policy), so a
file holds every captured line and event. They are durable enough to explain a crash: what they
take is on disk within :data:`FLUSH_EVERY` seconds, and at once for an exit, a warning or the
end of the stack, so a master killed with SIGKILL still leaves everything up to a moment before.
A record that cannot be written (full disk, file gone bad) reports it once and stops, and the
stack and every other output go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable

from muletui.engine import events

FLUSH_EVERY = 0.25  # seconds a taken line may wait in memory before it reaches the file
FILE_MODE = 0o640  # uWSGI's --logto mode (rw-r-----), whatever the umask allows
#: Events written through at once: what a post-mortem reader needs most.
_URGENT = (events.MuleExited, events.StackWarning, events.StackFailed, events.StackStopped)


class RecordError(Exception):
    """A record file cannot be opened; ``str()`` is the one-line reason."""


def source_name(mule_id: int, worker_id: int = 0) -> str:
    """``mule 3`` for a mule, ``worker 2`` for a worker, ``master`` for the stack root and the
    master itself."""
    if worker_id:
        return f"worker {worker_id}"
    return f"mule {mule_id}" if mule_id > 0 else "master"


class Recorder(ABC):
    """One record file: opened (appending, mode 0640) at construction, written as events come.

    Subclasses turn an event into text with :meth:`render`. ``on_failure`` gets one line, once,
    when the file stops being writable.
    """

    def __init__(self, option: str, path: str, on_failure: Callable[[str], None]) -> None:
        self.option = option
        self.path = path
        self._on_failure = on_failure
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, FILE_MODE)
        except OSError as error:
            raise RecordError(f"--{option} {path}: {error.strerror}") from None
        self._file = open(fd, "a", encoding="utf-8", errors="surrogateescape")  # noqa: SIM115 - closed by close()
        self._flush_pending: asyncio.TimerHandle | None = None
        self.failed = False

    @abstractmethod
    def render(self, event: events.Event) -> str:
        """The text this record keeps of ``event`` (lines ending in ``\\n``), or ``''``."""

    def __call__(self, event: events.Event) -> None:
        if self.failed:
            return
        text = self.render(event)
        if not text:
            return
        try:
            self._file.write(text)
        except OSError as error:
            self._fail(error)
            return
        if isinstance(event, _URGENT):
            self.flush()
        elif self._flush_pending is None:
            self._flush_pending = asyncio.get_running_loop().call_later(FLUSH_EVERY, self.flush)

    def flush(self) -> None:
        """Hand what was taken to the kernel (it survives the master's death from here)."""
        if self._flush_pending is not None:
            self._flush_pending.cancel()
            self._flush_pending = None
        if self.failed:
            return
        try:
            self._file.flush()
        except OSError as error:
            self._fail(error)

    def close(self) -> None:
        self.flush()
        with contextlib.suppress(OSError):  # a failed record already said why
            self._file.close()

    def _fail(self, error: OSError) -> None:
        self.failed = True
        if self._flush_pending is not None:
            self._flush_pending.cancel()
            self._flush_pending = None
        with contextlib.suppress(OSError):
            self._file.close()
        self._on_failure(f"--{self.option} {self.path}: {error.strerror}: no longer written (the stack goes on)")


class EventsWriter(Recorder):
    """``--events``: one JSON object per line and event: ``{"kind": ..., "t": monotonic, ...}``."""

    def __init__(self, path: str, on_failure: Callable[[str], None]) -> None:
        super().__init__("events", path, on_failure)

    def render(self, event: events.Event) -> str:
        return json.dumps(event.as_dict(), default=str) + "\n"


class LogFileWriter(Recorder):
    """``--log-file``: every captured line and master line: ``wall-clock source stream text``."""

    def __init__(self, path: str, on_failure: Callable[[str], None]) -> None:
        super().__init__("log-file", path, on_failure)

    def render(self, event: events.Event) -> str:
        if isinstance(event, events.OutputLines):
            name = source_name(event.mule_id, event.worker_id)
            prefix = f" {name} {event.stream} "
            return "".join(f"{_stamp(line.wall)}{prefix}{line.text}\n" for line in event.lines)
        if isinstance(event, events.MasterLog | events.StackWarning):
            tag = "log" if isinstance(event, events.MasterLog) else "warning"
            return f"{_stamp(event.wall)} master {tag} {event.text}\n"
        return ""


def _stamp(wall: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(wall)) + f".{int(wall % 1 * 1000):03d}"
