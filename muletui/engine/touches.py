"""``--touch-reload`` and ``--touch-mules-reload`` files, checked as uWSGI 2.0.30 checks them
(core/utils.c ``uwsgi_check_touches``), once per master cycle.

A file counts as touched when it was removed, when it was created after the master had found
it missing, and when its mtime changed. A file missing at the first check is logged once,
``unable to stat() PATH, events will be triggered as soon as the file is created``; a file
that disappears later is not logged (its removal is a touch).

Two differences, both on the side of noticing more: uWSGI takes a touch file's first mtime at
its first check, about a second after the start, and compares whole seconds, firing only when
the mtime grew; muletui takes it when the stack starts (again after each reload) and fires
whenever the mtime (to the nanosecond) changed, so a touch in the first second, a second touch
within the same second and an mtime set back (``touch -d``, ``cp -p``) count too.
"""

from __future__ import annotations

import os
from collections.abc import Callable


class TouchFile:
    """One watched path and what the last check saw of it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._mtime = _mtime(path)  # None: missing
        self._missing = False  # seen missing by a check (and said so, or fired for its removal)

    def check(self, log: Callable[[str], None]) -> bool:
        """Look at the file now; ``True`` if it was touched since the last look."""
        mtime = _mtime(self.path)
        if mtime is None:
            removed = self._mtime is not None
            if not removed and not self._missing:
                log(f"unable to stat() {self.path}, events will be triggered as soon as the file is created")
            self._mtime, self._missing = None, True
            return removed
        if self._mtime is None:
            touched = self._missing  # created since a check found it missing
        else:
            touched = mtime != self._mtime
        self._mtime, self._missing = mtime, False
        return touched


def _mtime(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def first_touched(files: list[TouchFile], log: Callable[[str], None]) -> TouchFile | None:
    """Check ``files`` in order up to the first touched one (uWSGI leaves the rest to its next
    cycle), and return it; ``None`` if none was."""
    return next((touch for touch in files if touch.check(log)), None)
