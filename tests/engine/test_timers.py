"""Timers, rb timers, cron and file monitors (reference §4): matching with an injected clock,
real schedules on the loop, and real file monitors."""

from __future__ import annotations

import asyncio
import time

import pytest

from muletui.engine import events
from muletui.engine.timers import Schedule, TimerService, cron_matches, minutes_to_next_match


def at(minute: int, hour: int = 10, day: int = 15, month: int = 6, weekday: int = 2) -> time.struct_time:
    """A local time; ``weekday`` in cron's numbering (Sunday 0)."""
    return time.struct_time((2026, month, day, hour, minute, 0, (weekday - 1) % 7, 1, -1))


def test_cron_fields():
    assert cron_matches((-1, -1, -1, -1, -1), at(7))
    assert cron_matches((27, -1, -1, -1, -1), at(27)) and not cron_matches((27, -1, -1, -1, -1), at(28))
    assert cron_matches((-5, -1, -1, -1, -1), at(35)) and not cron_matches((-5, -1, -1, -1, -1), at(36))
    assert cron_matches((-1, -2, -1, -1, -1), at(0, hour=14)) and not cron_matches((-1, -2, -1, -1, -1), at(0, hour=13))
    assert cron_matches((-1, -1, -1, 6, -1), at(0)) and not cron_matches((-1, -1, -1, 7, -1), at(0))
    assert cron_matches((61, -1, -1, -1, -1), at(1)) is False  # no range check: never matches


def test_cron_day_and_weekday_are_ored_when_both_set():
    friday_13th = at(0, day=13, weekday=5)
    assert cron_matches((0, 10, 13, -1, 1), friday_13th)  # day matches
    assert cron_matches((0, 10, 1, -1, 5), friday_13th)  # weekday matches
    assert not cron_matches((0, 10, 1, -1, 1), friday_13th)
    assert cron_matches((0, 10, -1, -1, 0), at(0, weekday=0)) and cron_matches((0, 10, -1, -1, 7), at(0, weekday=0))
    assert not cron_matches((0, 10, 13, -1, -1), at(0, day=14))  # weekday -1: plain AND


async def test_cron_fires_at_most_once_per_60_seconds():
    start = time.mktime(at(0))
    clock = [1000.0]
    now = [time.localtime(start)]
    fired: list[Schedule] = []
    service = TimerService(fired.append, clock=lambda: clock[0], localtime=lambda: now[0])
    try:
        service.add_cron(100, (-1, -1, -1, -1, -1))  # fires at once: the first check is at start
        assert len(fired) == 1
        for step in range(1, 60):
            clock[0] += 1
            now[0] = time.localtime(start + step)
            service.check_crons()
        assert len(fired) == 1
        clock[0] += 1
        now[0] = time.localtime(start + 60)
        service.check_crons()
        assert len(fired) == 2 and fired[-1].fires == 2
    finally:
        service.close()


async def test_timer_period_counts_from_activation_and_zero_never_fires():
    fired: list[tuple[int, float]] = []
    service = TimerService(lambda s: fired.append((s.signum, time.monotonic())))
    try:
        start = time.monotonic()
        service.add_timer(1, 1)
        service.add_timer(2, 0)
        service.add_rb_timer(3, 1, 2)
        await asyncio.sleep(3.3)
    finally:
        service.close()
    ones = [t - start for n, t in fired if n == 1]
    threes = [t - start for n, t in fired if n == 3]
    assert len(ones) == 3 and all(abs(t - (i + 1)) < 0.05 for i, t in enumerate(ones))
    assert len(threes) == 2  # rb timer with 2 iterations
    assert not [n for n, _t in fired if n == 2]


async def test_timers_from_the_api_and_their_errors(stack, write):
    app = write(
        "app.py",
        """
        import uwsgi
        uwsgi.register_signal(103, 'mule1', lambda n: print('rb', n, flush=True))
        uwsgi.register_signal(104, 'mule1', lambda n: print('zero', n, flush=True))
        uwsgi.add_rb_timer(103, 1, 2)
        uwsgi.add_rb_timer(104, 0)
        uwsgi.add_timer(105, -1)
        print('cron ->', uwsgi.add_cron(106, -1, -1, -1, -1, -1), flush=True)
        try:
            uwsgi.add_cron(107, -1, -1, -1, -1)
        except TypeError as e:
            print('cron 5 args ->', e, flush=True)
        try:
            uwsgi.add_timer(108, 1.5)
        except TypeError as e:
            print('float ->', e, flush=True)
        """,
    )
    run = await stack(f"--wsgi-file={app}", "--mule")
    await run.line("^rb 103", count=2, timeout=5)
    root = run.texts(0)
    assert "cron -> True" in root
    assert "cron 5 args -> add_cron() takes exactly 6 arguments (5 given)" in root
    assert "float -> 'float' object cannot be interpreted as an integer" in root
    assert "timerfd_settime(): Invalid argument [core/event.c line 1275]" in root
    assert "[uwsgi-cron] routing signal 106" in root
    warnings = [w.text for w in run.of(events.StackWarning)]
    assert any("add_rb_timer(104, 0) refused" in w for w in warnings)
    await asyncio.sleep(1.2)  # a third rb fire would have come by now
    assert len(run.matching("^rb 103")) == 2 and not run.matching("^zero")


async def test_64_entry_limit(stack, write):
    app = write(
        "app.py",
        """
        import uwsgi
        for i in range(64):
            uwsgi.add_timer(i, 0)
        try:
            uwsgi.add_timer(64, 0)
        except ValueError as e:
            print('65th ->', e, flush=True)
        """,
    )
    run = await stack(f"--wsgi-file={app}", "--mule")
    await run.line("^65th")
    assert run.matching("^65th") == ["65th -> unable to add timer"]
    assert "you can register max 64 timers !!!" in run.texts(0)


async def test_file_monitor_batches_and_no_recursion(stack, write, tmp_path):
    watched = tmp_path / "dir"
    (watched / "sub").mkdir(parents=True)
    app = write(
        "app.py",
        f"""
        import uwsgi
        uwsgi.register_signal(1, 'mule1', lambda n: print('fs', flush=True))
        uwsgi.add_file_monitor(1, {str(watched)!r})
        uwsgi.add_file_monitor(1, {str(tmp_path / 'nope')!r})
        """,
    )
    run = await stack(f"--wsgi-file={app}", "--mule")
    await run.until(lambda: run.master.mules[1].pid, what="mule 1")
    await asyncio.sleep(0.3)  # watchfiles needs its watch in place
    (watched / "a").write_text("x")
    await run.line("^fs", count=1)
    (watched / "sub" / "c").write_text("deep")
    await asyncio.sleep(0.5)
    assert len(run.matching("^fs")) == 1  # the subdirectory is not watched
    (watched / "a").rename(watched / "b")
    await run.line("^fs", count=2)
    fires = [e for e in run.of(events.TimerFired) if e.timer_kind == "file_monitor"]
    assert fires[0].changes and all(f.index == 1 for f in fires)
    assert not run.master.signals.file_monitors.monitors[1].watching


def test_next_matching_minute_of_a_cron_entry():
    ten_past = time.localtime(time.mktime(at(10)))  # 10:10, a Monday in June
    assert minutes_to_next_match((-1, -1, -1, -1, -1), ten_past) == 0
    assert minutes_to_next_match((15, -1, -1, -1, -1), ten_past) == 5
    assert minutes_to_next_match((5, -1, -1, -1, -1), ten_past) == 55
    assert minutes_to_next_match((0, 9, -1, -1, -1), ten_past) == 22 * 60 + 50
    assert minutes_to_next_match((-15, -1, -1, -1, -1), ten_past) == 5
    assert minutes_to_next_match((61, -1, -1, -1, -1), ten_past) is None  # never
    assert minutes_to_next_match((0, 0, 29, 2, -1), ten_past) is None  # not within 31 days
    assert minutes_to_next_match((30, 3, -1, -1, -1), ten_past) == 17 * 60 + 20  # hours skipped


async def test_a_cron_entry_shows_when_it_fires_next():
    clock = [1000.0]
    now = [time.localtime(time.mktime(at(10)))]
    service = TimerService(lambda s: None, clock=lambda: clock[0], localtime=lambda: now[0])
    try:
        quarter = service.add_cron(100, (15, -1, -1, -1, -1))
        every = service.add_cron(101, (-1, -1, -1, -1, -1))  # fires at once, then next minute
        never = service.add_cron(102, (61, -1, -1, -1, -1))
        service.check_crons()  # the first add checked at once; the others wait for the next tick
        assert quarter.next_at == 1000.0 + 5 * 60 and every.fires == 1 and every.next_at == 1000.0 + 60
        assert never.next_at is None
    finally:
        service.close()


@pytest.mark.parametrize("started", [0, 11, 59])
async def test_a_cron_countdown_is_the_second_the_entry_really_fires(started):
    """uWSGI checks crons every second and fires a match only 60 s after the entry's last fire:
    a ``-1`` minute that first fired at :11 fires at :11 from then on. Every countdown, from
    the start and after each fire, must point at the check that fires the entry next."""
    entries = {
        "every minute": (-1, -1, -1, -1, -1),
        "even minutes": (-2, -1, -1, -1, -1),
        "at :15": (15, -1, -1, -1, -1),
        "every 5 minutes, 11 o'clock": (-5, 11, -1, -1, -1),
    }
    start = time.mktime(at(10)) + started  # 10:10:SS
    clock = [5000.0]
    now = [time.localtime(start)]
    fires: dict[int, list[float]] = {}
    service = TimerService(lambda s: fires.setdefault(s.index, []).append(clock[0]), clock=lambda: clock[0],
                           localtime=lambda: now[0])
    try:
        schedules = [service.add_cron(100 + n, fields) for n, fields in enumerate(entries.values())]
        service.check_crons()
        predicted = {s.index: [s.next_at] for s in schedules}
        for step in range(1, 3 * 3600):
            clock[0] = 5000.0 + step
            now[0] = time.localtime(start + step)
            service.check_crons()
            for s in schedules:
                if predicted[s.index][-1] != s.next_at:
                    predicted[s.index].append(s.next_at)
    finally:
        service.close()
    for s, name in zip(schedules, entries, strict=True):
        later = [t for t in fires.get(s.index, []) if t > 5000.0]  # fires after the first check
        assert later, name
        assert predicted[s.index][: len(later)] == later, name
    every = fires[schedules[0].index]
    assert [t - every[0] for t in every[:3]] == [0, 60, 120]  # the phase of the first check, not :00
