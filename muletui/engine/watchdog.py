"""The master's once-a-second checks, as uWSGI's master cycle does them: mule harakiri
(``--mule-harakiri``, ``uwsgi.set_user_harakiri``) and ``--touch-mules-reload`` files
(:mod:`muletui.engine.touches`), the first check one cycle after the start.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from muletui.engine.touches import TouchFile, first_touched
from muletui.ipc.stats_block import Field, StatsBlock

PERIOD = 1.0  # uWSGI checks both once per master cycle (~1 s)


@dataclass
class WatchdogActions:
    """What the watchdog may do to the stack."""

    running_pids: Callable[[], dict[int, int]]  # mule id -> pid of the running incarnation
    kill: Callable[[int], None]  # SIGKILL mule id (the master then respawns it)
    reload_mules: Callable[[], None]
    log: Callable[[str], None]


class Watchdog:
    """Ticks every :data:`PERIOD` seconds on the event loop until closed."""

    def __init__(self, stats: StatsBlock, touch_files: list[str], actions: WatchdogActions) -> None:
        self._stats = stats
        self._actions = actions
        self._touch_files = [TouchFile(path) for path in touch_files]
        self._loop = asyncio.get_running_loop()
        self._handle = self._loop.call_later(PERIOD, self._tick)

    def _tick(self) -> None:
        self._check_harakiri()
        self._check_touched()
        self._handle = self._loop.call_later(PERIOD, self._tick)

    def _check_harakiri(self) -> None:
        now = time.monotonic_ns()
        for mule_id, pid in self._actions.running_pids().items():
            record = self._stats.record(mule_id)
            if 0 < record[Field.HARAKIRI_AT] < now:
                signum = record[Field.HARAKIRI_SIGNAL]
                self._actions.log(f"*** HARAKIRI ON MULE {mule_id} HANDLING SIGNAL {signum} (pid: {pid}) ***")
            elif 0 < record[Field.USER_HARAKIRI_AT] < now:
                self._actions.log(f"*** HARAKIRI ON MULE {mule_id} (pid: {pid}) ***")
            else:
                continue
            self._stats.set(mule_id, Field.HARAKIRI_AT, 0)
            self._stats.set(mule_id, Field.USER_HARAKIRI_AT, 0)
            self._actions.kill(mule_id)

    def _check_touched(self) -> None:
        touched = first_touched(self._touch_files, self._actions.log)
        if touched is not None:
            self._actions.log(f"*** {touched.path} has been touched... mules reload !!! ***")
            self._actions.reload_mules()

    def close(self) -> None:
        self._handle.cancel()

