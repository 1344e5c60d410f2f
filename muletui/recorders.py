"""Sinks that keep a record of a run on disk: ``--events`` (JSON Lines) and ``--log-file``.

Both are bus *sinks*: called inline for every event, they only append to a buffered file, and
they see everything (no drop policy), so a file holds every captured line and event.
"""

from __future__ import annotations

import json
import time
from typing import TextIO

from muletui.engine import events


class EventsWriter:
    """One JSON object per line and event: ``{"kind": ..., "t": monotonic, ...fields}``."""

    def __init__(self, path: str) -> None:
        self._file: TextIO = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()

    def __call__(self, event: events.Event) -> None:
        self._file.write(json.dumps(event.as_dict(), default=str) + "\n")
        if isinstance(event, events.StackStopped | events.StackFailed):
            self._file.flush()

    def close(self) -> None:
        self._file.close()


def source_name(mule_id: int) -> str:
    """``mule 3`` for a mule, ``master`` for the stack root and the master itself."""
    return f"mule {mule_id}" if mule_id > 0 else "master"


class LogFileWriter:
    """Every captured line and master log line: ``wall-clock source stream text``."""

    def __init__(self, path: str) -> None:
        self._file: TextIO = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()

    def __call__(self, event: events.Event) -> None:
        if isinstance(event, events.OutputLines):
            name = source_name(event.mule_id)
            for line in event.lines:
                self._file.write(f"{_stamp(line.wall)} {name} {event.stream} {line.text}\n")
        elif isinstance(event, events.MasterLog | events.StackWarning):
            tag = "log" if isinstance(event, events.MasterLog) else "warning"
            self._file.write(f"{_stamp(event.wall)} master {tag} {event.text}\n")

    def close(self) -> None:
        self._file.close()


def _stamp(wall: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(wall)) + f".{int(wall % 1 * 1000):03d}"
