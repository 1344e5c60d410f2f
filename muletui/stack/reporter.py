"""Sends reports from a stack process to the master, within a rate budget, never blocking."""

from __future__ import annotations

import os
import time

from muletui.ipc import reports
from muletui.ipc.stats_block import Field, StatsBlock


class Reporter:
    """Token bucket of ``rate`` reports per second (burst ``rate``); the rest are counted as dropped."""

    def __init__(self, fd: int, stats: StatsBlock, slot: int, rate: int) -> None:
        self._fd = fd
        self._words = stats.words
        self._dropped_index = stats.offset(slot, Field.EVENTS_DROPPED)
        self._rate = float(rate)
        self._tokens = float(rate)
        self._last = time.monotonic()

    def admit(self) -> bool:
        """Take one report from the budget; ``False`` (and counted) when it is spent.

        Hot paths call this before they build a report, so a refused one costs nothing more.
        """
        now = time.monotonic()
        self._tokens = min(self._rate, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if self._tokens < 1.0:
            self._words[self._dropped_index] += 1
            return False
        self._tokens -= 1.0
        return True

    def send(self, report: reports.Report) -> None:
        """Send ``report`` if the budget allows."""
        if self.admit():
            self.send_always(report)

    def send_always(self, report: reports.Report) -> None:
        """Send outside the budget (admitted reports, rare ones like warnings), never blocking."""
        try:
            os.write(self._fd, reports.encode(report))
        except OSError:
            self._words[self._dropped_index] += 1
