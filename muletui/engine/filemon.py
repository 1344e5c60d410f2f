"""File monitors (``add_file_monitor``, ``@filemon``, ``--fs-signal``): one signal per batch.

Built on watchfiles, not recursive, with no filter (uWSGI's inotify mask sees every entry). A
batch is what watchfiles gathers until 1 ms passes without a new change, which matches
uWSGI's "one signal per inotify read". A path that does not exist is accepted and never fires,
as in uWSGI; a watched file that is deleted is not watched again once re-created.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

import watchfiles

_STEP_MS = 1  # quiet time that ends a batch (watchfiles' step): ~2 ms touch-to-signal, idle CPU
_MAX_BATCH_MS = 50  # a continuous stream of changes still yields a batch this often


@dataclass
class FileMonitor:
    """One monitored path and what it saw."""

    index: int
    signum: int
    path: str
    fires: int = 0
    last_changes: tuple[str, ...] = ()
    watching: bool = True  # False: the path did not exist (never fires)
    announce: bool = False  # log uWSGI's [uwsgi-fsmon] line on each batch (--fs-signal)
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class FileMonitors:
    """Runs one watchfiles watcher per monitored path on the event loop."""

    def __init__(self, fire: Callable[[FileMonitor], None]) -> None:
        self._fire = fire
        self._stop = asyncio.Event()
        self.monitors: list[FileMonitor] = []

    def add(self, signum: int, path: str, announce: bool = False) -> FileMonitor:
        monitor = FileMonitor(len(self.monitors) + 1, signum, path, announce=announce)
        self.monitors.append(monitor)
        monitor.task = asyncio.create_task(self._watch(monitor), name=f"file monitor {path}")
        return monitor

    async def _watch(self, monitor: FileMonitor) -> None:
        try:
            async for changes in watchfiles.awatch(
                monitor.path,
                watch_filter=None,
                recursive=False,
                step=_STEP_MS,
                debounce=_MAX_BATCH_MS,
                stop_event=self._stop,
            ):
                monitor.fires += 1
                monitor.last_changes = tuple(sorted(f"{change.name} {path}" for change, path in changes))
                self._fire(monitor)
        except FileNotFoundError:
            monitor.watching = False

    async def close(self) -> None:
        self._stop.set()
        for monitor in self.monitors:
            if monitor.task is not None:
                monitor.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await monitor.task
