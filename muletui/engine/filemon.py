"""File monitors (``add_file_monitor``, ``@filemon``, ``--fs-signal``): one signal per change.

Each monitor is an inotify descriptor with uWSGI's event mask, read on the event loop: not
recursive. A path that does not exist is accepted and never fires; a watched file that is
deleted is not watched again once re-created (the watch dies with the inode).

uWSGI raises one signal per read of its inotify descriptor. A touch that creates a file
(CREATE then ATTRIB) or a rewrite of one (MODIFY on the truncation, MODIFY on the write) makes
two events some 0.05-0.3 ms apart, so uWSGI raises one or two signals for it depending on
timing (measured with 2.0.30: 98 signals for 50 touches creating files, 91 for 50 rewrites;
50 for 50 touches of an existing file, a single ATTRIB). muletui raises one per change: a
batch that ends with a file created or written waits for its writer's close (IN_CLOSE_WRITE,
watched for that alone), at most :data:`SETTLE` seconds, so the handler runs once and sees
the file complete. A single event (a touch of an existing file, a removal, a move) fires at
once, as in uWSGI.

Design note: this replaced watchfiles, whose polling step costs ~2 ms per change and a waking
thread per monitor; a bare descriptor answers in ~0.15 ms and costs nothing while idle.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from muletui.linux import (
    IN_CLOSE_WRITE,
    IN_CREATE,
    IN_ISDIR,
    IN_MODIFY,
    UWSGI_FILE_MONITOR_MASK,
    Inotify,
    InotifyEvent,
)

#: The longest a change waits for its writer's close: a writer that keeps its file open (or a
#: link created, which nobody closes) fires its monitor this long after its first event. Ample
#: for a busy machine, where a ``touch`` can be descheduled for milliseconds between its events.
SETTLE = 0.05


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
    watch: Inotify | None = field(default=None, repr=False)
    pending: list[str] = field(default_factory=list, repr=False)  # the change being gathered
    settle: asyncio.TimerHandle | None = field(default=None, repr=False)


def _being_written(event: InotifyEvent) -> bool:
    """A file was created or written to, and its writer may not have closed it yet."""
    return bool(event.mask & (IN_CREATE | IN_MODIFY)) and not event.mask & IN_ISDIR


class FileMonitors:
    """Every file monitor of a stack, on the event loop."""

    def __init__(self, fire: Callable[[FileMonitor], None]) -> None:
        self._fire = fire
        self._loop = asyncio.get_running_loop()
        self.monitors: list[FileMonitor] = []

    def add(self, signum: int, path: str, announce: bool = False) -> FileMonitor:
        monitor = FileMonitor(len(self.monitors) + 1, signum, path, announce=announce)
        self.monitors.append(monitor)
        try:
            monitor.watch = Inotify(path, extra_mask=IN_CLOSE_WRITE)
        except OSError:
            monitor.watching = False
            return monitor
        self._loop.add_reader(monitor.watch.fd, self._readable, monitor)
        return monitor

    def _readable(self, monitor: FileMonitor) -> None:
        events = self._gather(monitor)
        if not monitor.pending:
            return  # only closes: nothing uWSGI's mask sees
        if events and _being_written(events[-1]):
            if monitor.settle is None:
                monitor.settle = self._loop.call_later(SETTLE, self._flush, monitor)
        else:
            self._flush(monitor)

    @staticmethod
    def _gather(monitor: FileMonitor) -> list[InotifyEvent]:
        """Read what is pending into the change being gathered; the events read."""
        assert monitor.watch is not None
        events = monitor.watch.read_batch()
        monitor.pending += [event.text for event in events if event.mask & UWSGI_FILE_MONITOR_MASK]
        return events

    def _flush(self, monitor: FileMonitor) -> None:
        """Fire for the change gathered so far (and whatever came meanwhile)."""
        if monitor.settle is not None:
            monitor.settle.cancel()
            monitor.settle = None
        if monitor.watch is None:
            return
        self._gather(monitor)
        monitor.fires += 1
        monitor.last_changes, monitor.pending = tuple(monitor.pending), []
        self._fire(monitor)

    async def close(self) -> None:
        for monitor in self.monitors:
            if monitor.settle is not None:
                monitor.settle.cancel()
            if monitor.watch is not None:
                self._loop.remove_reader(monitor.watch.fd)
                monitor.watch.close()
                monitor.watch = None
