"""Command crons (``--cron "MIN HOUR DAY MONTH WEEKDAY COMMAND"``, ``--unique-cron``): the
master runs a shell command when local time matches, as uWSGI 2.0.30's master does
(core/cron.c, core/master_checks.c).

The schedule is the signal crons' (:func:`muletui.engine.timers.check_cron`, checked once a
second with them): ``-1`` any, ``-N`` every N, at most once per 60 s, so a ``-1`` entry runs
at the first check and then every 60 s at the same second. A unique cron is not checked at
all while its last run is still running: it runs at the first check after that run ended
when 60 s have passed. The lines are uWSGI's::

    [uwsgi-cron] command "CMD" registered as cron task      (at start)
    [uwsgi-cron] running "CMD" (pid N)
    [uwsgi-cron] command "CMD" running with pid N exited after S second(s)
    subprocess N exited with code C                          (a run that a newer run of the
                                                              same cron overtook)

Two deviations, both in the README: uWSGI notices an exit on its next 1-s cycle, so a quick
command "exited after 1 second(s)" there and 0 here; and a command still running when the
stack stops is killed with it (uWSGI leaves it running, orphaned).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from muletui.config.stack_config import CronCommandSpec
from muletui.engine.shell import Publish, ShellCommand
from muletui.engine.timers import Schedule, TimerService, check_cron


@dataclass
class CronCommand:
    """One command cron: its schedule, its runs under way and the latest one's pid."""

    spec: CronCommandSpec
    schedule: Schedule
    runs: set[asyncio.Task[None]] = field(default_factory=set)  # until each has logged its end
    pid: int | None = None  # the latest run, while it runs
    started_at: int = 0  # epoch second of the latest run's start, as uWSGI counts it


class CronCommands:
    """Every command cron of a stack, checked by ``timers`` once a second."""

    def __init__(
        self,
        specs: list[CronCommandSpec],
        timers: TimerService,
        environment: dict[str, str] | None,
        cwd: str | None,
        publish: Publish,
        log: Callable[[str], None],
        warn: Callable[[str], None],
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._environment = environment
        self._cwd = cwd
        self._publish = publish
        self._log = log
        self._warn = warn
        self._wall = wall
        self._closed = False
        self.crons = [
            CronCommand(spec, Schedule("cron_command", index, 0, fields=spec.fields))
            for index, spec in enumerate(specs, start=1)
        ]
        for cron in self.crons:
            log(f'[uwsgi-cron] command "{cron.spec.command}" registered as cron task')
        if self.crons:
            timers.add_cron_check(self._check)

    def _check(self, now: time.struct_time, mono: float) -> None:
        if self._closed:
            return
        for cron in self.crons:
            if cron.spec.unique and cron.runs:
                continue
            if check_cron(cron.schedule, now, mono):
                task = asyncio.ensure_future(self._run(cron))
                cron.runs.add(task)
                task.add_done_callback(cron.runs.discard)

    async def _run(self, cron: CronCommand) -> None:
        command = cron.spec.command
        try:
            shell = await ShellCommand.start(command, self._environment, self._cwd, self._publish)
        except OSError as error:
            self._log(f'[uwsgi-cron] unable to run "{command}": {error.strerror}')
            return
        cron.pid, cron.started_at = shell.pid, int(self._wall())
        self._log(f'[uwsgi-cron] running "{command}" (pid {shell.pid})')
        try:
            status = await shell.wait()
        except asyncio.CancelledError:
            self._warn(f'cron command "{command}" (pid {shell.pid}) was still running: killed with the stack '
                       "(uWSGI leaves it running)")
            raise
        if cron.pid == shell.pid:
            seconds = int(self._wall()) - cron.started_at
            self._log(f'[uwsgi-cron] command "{command}" running with pid {shell.pid} exited after {seconds} second(s)')
            cron.pid = None
        elif status < 0:
            self._log(f"subprocess {shell.pid} exited by signal {-status}")
        else:
            self._log(f"subprocess {shell.pid} exited with code {status}")

    async def close(self) -> None:
        """Start no more runs; kill every command still running (with what it started, each
        with a warning) and wait for them to end."""
        self._closed = True
        runs = [task for cron in self.crons for task in cron.runs]
        for task in runs:
            task.cancel()
        await asyncio.gather(*runs, return_exceptions=True)
