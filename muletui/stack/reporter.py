"""Sends reports from a stack process to the master, within a rate budget, never blocking.

Per-message, per-lock and per-signal reports are *posted*: a mule gathers them and a small
flusher thread sends them as one datagram 20 ms after the first (or at once when 64 wait). So
the master wakes up at most 50 times a second per busy mule, not once per message: the
messages themselves never wait for it. Registrations, timer requests and warnings are sent at
once, after whatever was posted before them.
"""

from __future__ import annotations

import os
import threading
import time
from time import monotonic as _monotonic

from muletui.ipc import reports
from muletui.ipc.stats_block import Field, StatsBlock

_BATCH = 64
_FLUSH_AFTER = 0.02


class Reporter:
    """Token bucket of ``rate`` reports per second (burst ``rate``); the rest are counted as dropped.

    ``batching`` is off in the stack root: it must not start a thread before it forks.
    """

    def __init__(self, fd: int, stats: StatsBlock, slot: int, rate: int, batching: bool) -> None:
        self._fd = fd
        self._words = stats.words
        self._dropped_index = stats.offset(slot, Field.EVENTS_DROPPED)
        self._rate = float(rate)
        self._tokens = float(rate)
        self._last = time.monotonic()
        self._batching = batching
        self._pending: list[reports.Report] = []
        self._lock = threading.Lock()
        self._wanted = threading.Event()  # set while something waits for the flusher
        self._flusher: threading.Thread | None = None

    def admit(self) -> bool:
        """Take one report from the budget; ``False`` (and counted) when it is spent.

        Hot paths call this before they build a report, so a refused one costs nothing more.
        """
        now = _monotonic()
        tokens = self._tokens + (now - self._last) * self._rate
        self._last = now
        if tokens >= 1.0:
            self._tokens = min(self._rate, tokens) - 1.0
            return True
        self._tokens = tokens
        self._words[self._dropped_index] += 1
        return False

    def post(self, report: reports.Report) -> None:
        """Queue an admitted report for the next batch (or send it now, without batching)."""
        if not self._batching:
            self._write(reports.encode(report))
            return
        with self._lock:
            self._pending.append(report)
            count = len(self._pending)
        if count >= _BATCH:
            self.flush()
        elif count == 1:
            if self._flusher is None:
                self._flusher = threading.Thread(target=self._flush_forever, name="muletui-reports", daemon=True)
                self._flusher.start()
            self._wanted.set()

    def send(self, report: reports.Report) -> None:
        """Post ``report`` if the budget allows."""
        if self.admit():
            self.post(report)

    def send_always(self, report: reports.Report) -> None:
        """Send now, outside the budget (rare reports: warnings, registrations, timer requests)."""
        self.flush()
        self._write(reports.encode(report))

    def flush(self, wait: bool = True) -> None:
        """Send what was posted, as one datagram. ``wait=False`` (from a POSIX signal handler,
        which may have interrupted :meth:`post` holding the lock) gives up instead of waiting."""
        if not self._pending or not self._lock.acquire(blocking=wait):
            return
        try:
            batch, self._pending = self._pending, []
        finally:
            self._lock.release()
        if batch:
            self._write(reports.encode((reports.BATCH, *batch)))

    def _flush_forever(self) -> None:
        while True:
            self._wanted.wait()  # idle mules cost nothing
            time.sleep(_FLUSH_AFTER)
            self._wanted.clear()
            self.flush()

    def _write(self, data: bytes) -> None:
        try:
            os.write(self._fd, data)
        except OSError:
            self._words[self._dropped_index] += 1
