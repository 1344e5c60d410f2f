"""Timers, rb timers and cron entries: the master's schedules that raise signals (§4).

All values are whole seconds. Timers and rb timers are timerfds, as uWSGI's timers are: the
period counts from activation, expiries are precise to the kernel's wake-up (not to the event
loop's millisecond rounding), and periods missed while the loop was busy coalesce into one
fire. Cron entries are matched against local time once a second and fire at most once per
60 s, counted in whole seconds of local time as uWSGI counts them: a ``-1`` minute that first
fired at :11 fires at :11 every minute, not at :00. The same once-a-second check serves the
command crons (:mod:`muletui.engine.cron_commands`) through :meth:`TimerService.add_cron_check`.
The clock and local time are injectable, so cron is tested without waiting for minutes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from muletui.linux import PeriodicTimer

Fire = Callable[["Schedule"], None]
#: A once-a-second cron check: local time now, and the clock's time (monotonic) now.
CronCheck = Callable[[time.struct_time, float], None]


@dataclass
class Schedule:
    """One timer, rb timer or cron entry, with what it did so far."""

    kind: str  # "timer", "rb_timer", "cron" (or "cron_command", not in the service's list)
    index: int  # 1-based within its kind, as listed to the user
    signum: int
    seconds: int = 0
    iterations: int = 0  # rb timers: 0 forever
    fields: tuple[int, int, int, int, int] = (-1, -1, -1, -1, -1)  # cron: minute hour day month weekday
    fires: int = 0
    next_at: float | None = None  # monotonic time of the next fire (cron: to the second, for display)
    last_fire: float | None = None  # monotonic
    last_job: int | None = None  # cron: the local-time second (epoch) it last fired, uWSGI's last_job
    next_search_at: float = 0.0  # cron: when to look for the next fire again

    @property
    def spec(self) -> str:
        if self.kind == "cron":
            return " ".join(str(value) for value in self.fields)
        if self.kind == "rb_timer" and self.iterations:
            return f"every {self.seconds}s, {self.iterations} times"
        return f"every {self.seconds}s"


def cron_matches(fields: tuple[int, int, int, int, int], now: time.struct_time) -> bool:
    """uWSGI's cron test: ``-1`` any, ``-N`` value % N == 0, day and weekday OR-ed if both set."""
    values = (now.tm_min, now.tm_hour, now.tm_mday, now.tm_mon, (now.tm_wday + 1) % 7)

    def ok(wanted: int, value: int, weekday: bool = False) -> bool:
        if wanted < 0:
            return value % -wanted == 0
        return value == (wanted % 7 if weekday else wanted)

    minute, hour, day, month, weekday = (ok(w, v, i == 4) for i, (w, v) in enumerate(zip(fields, values, strict=True)))
    if fields[2] >= 0 and fields[4] >= 0:
        return minute and hour and month and (day or weekday)
    return minute and hour and day and month and weekday


#: How far ahead the next matching minute of a cron entry is looked for (display only).
CRON_HORIZON_MINUTES = 31 * 24 * 60


def minutes_to_next_match(fields: tuple[int, int, int, int, int], now: time.struct_time) -> int | None:
    """Whole minutes from ``now``'s minute to the next one ``fields`` match (0: this one),
    within :data:`CRON_HORIZON_MINUTES`; ``None`` if none does."""
    minute_start = time.mktime(now) - now.tm_sec
    any_minute = (-1, *fields[1:])
    ahead = 0
    while ahead < CRON_HORIZON_MINUTES:
        moment = time.localtime(minute_start + 60 * ahead)
        if not cron_matches(any_minute, moment):
            ahead += 60 - moment.tm_min  # no minute of this hour can match: on to the next hour
        elif cron_matches(fields, moment):
            return ahead
        else:
            ahead += 1
    return None


def next_cron_fire(fields: tuple[int, int, int, int, int], second: int, last_job: int | None) -> int | None:
    """The epoch second of the first check after ``second`` that fires a cron entry, checks
    being made every second; ``None`` if no minute matches within :data:`CRON_HORIZON_MINUTES`.

    The entry fires at the first second that is both in a matching minute and at least 60 s
    after ``last_job``: so a match can come seconds into its minute, not at :00.
    """
    earliest = second + 1 if last_job is None else max(second + 1, last_job + 60)
    moment = time.localtime(earliest)
    ahead = minutes_to_next_match(fields, moment)
    if ahead is None:
        return None
    return earliest if ahead == 0 else earliest - moment.tm_sec + 60 * ahead


def check_cron(schedule: Schedule, now: time.struct_time, mono: float) -> bool:
    """One of uWSGI's checks of a cron entry, at local time ``now`` (``mono`` on the clock):
    ``True`` if it fires now: its fields match and it last fired 60 s or more ago (its
    counters are then updated). Its countdown is kept current either way."""
    second = int(time.mktime(now))
    fires = (schedule.last_job is None or second - schedule.last_job >= 60) and cron_matches(schedule.fields, now)
    if fires:
        schedule.fires += 1
        schedule.last_fire = mono
        schedule.last_job = second
        schedule.next_search_at = 0.0
    if mono >= schedule.next_search_at:
        _find_next(schedule, second, mono)
    return fires


def _find_next(schedule: Schedule, second: int, mono: float) -> None:
    """Set a cron entry's countdown to the check that will fire it; look again once that
    is reached (or in an hour if no minute matches within the horizon)."""
    fire = next_cron_fire(schedule.fields, second, schedule.last_job)
    if fire is None:
        schedule.next_at, schedule.next_search_at = None, mono + 3600
    else:
        schedule.next_at = schedule.next_search_at = mono + (fire - second)


class TimerService:
    """Runs every schedule on the event loop and calls ``fire`` when one is due."""

    def __init__(
        self,
        fire: Fire,
        clock: Callable[[], float] = time.monotonic,
        localtime: Callable[[], time.struct_time] = time.localtime,
    ) -> None:
        self._fire = fire
        self._clock = clock
        self._localtime = localtime
        self._loop = asyncio.get_running_loop()
        self.schedules: list[Schedule] = []
        self._timerfds: dict[int, PeriodicTimer] = {}
        self._cron_tick: asyncio.TimerHandle | None = None
        self._cron_checks: list[CronCheck] = [self._check_signal_crons]

    def _count(self, kind: str) -> int:
        return sum(1 for s in self.schedules if s.kind == kind)

    def add_timer(self, signum: int, seconds: int) -> Schedule:
        """A uWSGI timer: 0 never fires; negative is refused later by uWSGI with a log line."""
        schedule = Schedule("timer", self._count("timer") + 1, signum, seconds)
        self.schedules.append(schedule)
        if seconds > 0:
            self._arm(schedule, self._clock() + seconds)
        return schedule

    def add_rb_timer(self, signum: int, seconds: int, iterations: int) -> Schedule:
        """An rb timer; the caller refuses ``seconds <= 0``, which makes uWSGI's master spin."""
        schedule = Schedule("rb_timer", self._count("rb_timer") + 1, signum, seconds, iterations)
        self.schedules.append(schedule)
        self._arm(schedule, self._clock() + seconds)
        return schedule

    def add_cron(self, signum: int, fields: tuple[int, int, int, int, int]) -> Schedule:
        schedule = Schedule("cron", self._count("cron") + 1, signum, fields=fields)
        self.schedules.append(schedule)
        if self._cron_tick is None:
            self.check_crons()
        return schedule

    def add_cron_check(self, check: CronCheck) -> None:
        """Have ``check`` called on every cron check from now on, the first one now."""
        self._cron_checks.append(check)
        if self._cron_tick is None:
            self.check_crons()

    def _arm(self, schedule: Schedule, first: float) -> None:
        timer = self._timerfds[id(schedule)] = PeriodicTimer(first, schedule.seconds)
        schedule.next_at = first
        self._loop.add_reader(timer.fd, self._due, schedule, timer)

    def _due(self, schedule: Schedule, timer: PeriodicTimer) -> None:
        expired = timer.expirations()
        if not expired:
            return
        now = self._clock()
        assert schedule.next_at is not None
        schedule.next_at += expired * schedule.seconds
        schedule.fires += 1
        schedule.last_fire = now
        self._fire(schedule)
        if schedule.kind == "rb_timer" and schedule.iterations and schedule.fires >= schedule.iterations:
            schedule.next_at = None
            self._disarm(schedule)

    def _disarm(self, schedule: Schedule) -> None:
        timer = self._timerfds.pop(id(schedule), None)
        if timer is not None:
            self._loop.remove_reader(timer.fd)
            timer.close()

    def check_crons(self) -> None:
        """Run every cron check at local time now; re-arm at the next whole second."""
        if self._cron_tick is not None:
            self._cron_tick.cancel()
        now, mono = self._localtime(), self._clock()
        for check in self._cron_checks:
            check(now, mono)
        wall = time.time()
        self._cron_tick = self._loop.call_later(1.0 - wall % 1.0 + 0.001, self.check_crons)

    def _check_signal_crons(self, now: time.struct_time, mono: float) -> None:
        for schedule in self.schedules:
            if schedule.kind == "cron" and check_cron(schedule, now, mono):
                self._fire(schedule)

    def close(self) -> None:
        for schedule in self.schedules:
            self._disarm(schedule)
        if self._cron_tick is not None:
            self._cron_tick.cancel()
