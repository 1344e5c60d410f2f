"""The few Linux calls muletui needs and Python 3.11's stdlib lacks: parent-death signals,
timerfd (precise, drift-free periodic timers the event loop can wait on) and inotify (file
monitors with uWSGI's own mask)."""

from __future__ import annotations

import ctypes
import os
import signal
from typing import NamedTuple

_PR_SET_PDEATHSIG = 1
_CLOCK_MONOTONIC = 1  # the clock of time.monotonic()
_TFD_NONBLOCK = os.O_NONBLOCK
_TFD_CLOEXEC = os.O_CLOEXEC
_TFD_TIMER_ABSTIME = 1
_libc = ctypes.CDLL(None, use_errno=True)


def die_with_parent(parent_pid: int) -> None:
    """Have the kernel SIGKILL this process when its parent dies; exit now if it already has.

    This is what keeps a stack orphan-free even when the master is killed with SIGKILL.
    """
    if _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent_pid:
        os._exit(1)


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


def _timespec(seconds: float) -> _Timespec:
    whole = int(seconds)
    return _Timespec(whole, round((seconds - whole) * 1e9))


class PeriodicTimer:
    """A timerfd on CLOCK_MONOTONIC: first expiry at ``first`` (a ``time.monotonic()`` value),
    then every ``period`` seconds. Readable when it expired; :meth:`expirations` tells how many
    times since the last read (missed periods coalesce, as uWSGI's timers do)."""

    def __init__(self, first: float, period: float) -> None:
        self.fd = _libc.timerfd_create(_CLOCK_MONOTONIC, _TFD_NONBLOCK | _TFD_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "timerfd_create failed")
        spec = _Itimerspec(_timespec(period), _timespec(first))
        if _libc.timerfd_settime(self.fd, _TFD_TIMER_ABSTIME, ctypes.byref(spec), None) != 0:
            errno = ctypes.get_errno()
            os.close(self.fd)
            raise OSError(errno, "timerfd_settime failed")

    def expirations(self) -> int:
        try:
            return int.from_bytes(os.read(self.fd, 8), "little")
        except BlockingIOError:
            return 0

    def close(self) -> None:
        os.close(self.fd)


# uWSGI's file monitor mask (core/event.c): attributes, create, delete, modify, moves.
IN_MODIFY, _IN_ATTRIB, _IN_MOVED_FROM, _IN_MOVED_TO = 0x2, 0x4, 0x40, 0x80
IN_CREATE, _IN_DELETE, _IN_DELETE_SELF, _IN_MOVE_SELF = 0x100, 0x200, 0x400, 0x800
UWSGI_FILE_MONITOR_MASK = (
    _IN_ATTRIB | IN_CREATE | _IN_DELETE | _IN_DELETE_SELF | IN_MODIFY | _IN_MOVE_SELF | _IN_MOVED_FROM | _IN_MOVED_TO
)
IN_CLOSE_WRITE = 0x8  # a file opened for writing was closed (not in uWSGI's mask)
IN_ISDIR = 0x40000000  # the event's subject is a directory
_EVENT_NAMES = {
    IN_MODIFY: "modified", _IN_ATTRIB: "attrib", _IN_MOVED_FROM: "moved from", _IN_MOVED_TO: "moved to",
    IN_CREATE: "created", _IN_DELETE: "deleted", _IN_DELETE_SELF: "deleted self", _IN_MOVE_SELF: "moved self",
    IN_CLOSE_WRITE: "closed",
}
_EVENT_HEADER = 16  # struct inotify_event: int wd; uint32 mask, cookie, len; then the name


class InotifyEvent(NamedTuple):
    """One event: its mask bits, and the name in a watched directory (``''``: the path itself)."""

    mask: int
    name: str

    @property
    def text(self) -> str:
        """``"created name"``, ``"attrib"``..."""
        kinds = [text for bit, text in _EVENT_NAMES.items() if self.mask & bit]
        return " ".join(kinds) + (f" {self.name}" if self.name else "")


class Inotify:
    """One inotify instance watching one path, not recursively (as uWSGI's file monitors), for
    the events of uWSGI's mask and ``extra_mask``."""

    def __init__(self, path: str, extra_mask: int = 0) -> None:
        self.fd = _libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        if _libc.inotify_add_watch(self.fd, os.fsencode(path), UWSGI_FILE_MONITOR_MASK | extra_mask) < 0:
            errno = ctypes.get_errno()
            os.close(self.fd)
            raise OSError(errno, os.strerror(errno), path)

    def read_batch(self) -> list[InotifyEvent]:
        """Everything pending, in order; ``[]`` if nothing was."""
        changes: list[InotifyEvent] = []
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return changes
            offset = 0
            while offset + _EVENT_HEADER <= len(data):
                mask = int.from_bytes(data[offset + 4 : offset + 8], "little")
                length = int.from_bytes(data[offset + 12 : offset + 16], "little")
                name = data[offset + _EVENT_HEADER : offset + _EVENT_HEADER + length].rstrip(b"\0")
                changes.append(InotifyEvent(mask, os.fsdecode(name)))
                offset += _EVENT_HEADER + length

    def close(self) -> None:
        os.close(self.fd)
