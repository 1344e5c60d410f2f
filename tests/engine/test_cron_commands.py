"""Command crons (``--cron``, ``--unique-cron``) with uWSGI 2.0.30's lines (measured with
``--cron "-1 -1 -1 -1 -1 /bin/echo hi"``: ``[uwsgi-cron] command "/bin/echo hi" registered as
cron task`` at start, ``[uwsgi-cron] running "/bin/echo hi" (pid N)`` at the first master
cycle and every 60 s after, its output, ``[uwsgi-cron] command "/bin/echo hi" running with pid
N exited after 1 second(s)``; a unique cron skipped while it ran and ran again at the first
check after its end; a cron overtaken by its next run ended with ``subprocess N exited with
code 0``). The schedule is the signal crons', driven here by an injected clock."""

from __future__ import annotations

import asyncio
import os
import re
import time

import pytest

from muletui.config.builder import build
from muletui.config.entry import ConfigError
from muletui.config.options import parse_argv
from muletui.config.stack_config import CronCommandSpec
from muletui.engine import events
from muletui.engine.cron_commands import CronCommands
from muletui.engine.timers import TimerService

EVERY_MINUTE = (-1, -1, -1, -1, -1)


class Clock:
    """Local time and the monotonic clock, moved by hand."""

    def __init__(self) -> None:
        self.start = time.mktime((2026, 6, 15, 10, 10, 11, 0, 1, -1))
        self.elapsed = 0

    def localtime(self) -> time.struct_time:
        return time.localtime(self.start + self.elapsed)

    def monotonic(self) -> float:
        return 1000.0 + self.elapsed


class Crons:
    """Command crons on a timer service with a hand-moved clock, and what they logged."""

    def __init__(self, specs: list[CronCommandSpec]) -> None:
        self.clock = Clock()
        self.lines: list[str] = []
        self.warnings: list[str] = []
        self.changed = asyncio.Event()
        self.timers = TimerService(lambda s: None, clock=self.clock.monotonic, localtime=self.clock.localtime)
        self.crons = CronCommands(specs, self.timers, None, None, self._publish, self._log, self.warnings.append)

    def _publish(self, event: events.Event) -> None:
        if isinstance(event, events.OutputLines):
            self.lines += [line.text for line in event.lines]
            self.changed.set()

    def _log(self, text: str) -> None:
        self.lines.append(text)
        self.changed.set()

    def tick(self, seconds: int) -> None:
        self.clock.elapsed += seconds
        self.timers.check_crons()

    async def until(self, pattern: str, count: int = 1) -> list[str]:
        regex = re.compile(pattern)
        async with asyncio.timeout(5):
            while len(found := [line for line in self.lines if regex.search(line)]) < count:
                self.changed.clear()
                await self.changed.wait()
        return found

    async def close(self) -> None:
        await self.crons.close()
        self.timers.close()


@pytest.fixture
async def crons():
    made: list[Crons] = []

    def _make(*specs: CronCommandSpec) -> Crons:
        made.append(Crons(list(specs)))
        return made[-1]

    yield _make
    for one in made:
        await one.close()


async def test_a_command_runs_at_the_first_check_then_every_60_seconds(crons):
    run = crons(CronCommandSpec(EVERY_MINUTE, "echo hi"))
    assert run.lines[0] == '[uwsgi-cron] command "echo hi" registered as cron task'
    started = await run.until(r'^\[uwsgi-cron\] running "echo hi" \(pid \d+\)$')
    pid = re.findall(r"pid (\d+)", started[0])[0]
    await run.until(rf'^\[uwsgi-cron\] command "echo hi" running with pid {pid} exited after \d+ second\(s\)$')
    assert "hi" in run.lines
    run.tick(59)
    await asyncio.sleep(0.1)
    assert len(run.lines) == 4
    run.tick(1)
    await run.until("^hi$", count=2)


async def test_a_unique_cron_waits_for_its_run_and_a_plain_one_overtakes_it(crons):
    run = crons(
        CronCommandSpec(EVERY_MINUTE, "sleep 0.5; echo unique done", unique=True),
        CronCommandSpec(EVERY_MINUTE, "sleep 0.5; echo plain done"),
    )
    first = await run.until(r"^\[uwsgi-cron\] running .*plain done")
    run.tick(60)  # both still run: only the plain one starts again
    await run.until(r"^\[uwsgi-cron\] running .*plain done", count=2)
    assert len([line for line in run.lines if "running" in line and "unique" in line]) == 1
    overtaken = re.findall(r"pid (\d+)", first[0])[0]
    await run.until(rf"^subprocess {overtaken} exited with code 0$")
    await run.until(r'^\[uwsgi-cron\] command "sleep 0.5; echo unique done" running with pid \d+ exited after')
    run.tick(1)  # the first check after the unique run ended, 61 s after it started
    await run.until(r"^\[uwsgi-cron\] running .*unique done", count=2)


async def test_commands_still_running_are_killed_at_stop(crons):
    run = crons(CronCommandSpec(EVERY_MINUTE, "sleep 30"))
    started = await run.until(r"^\[uwsgi-cron\] running")
    pid = int(re.findall(r"pid (\d+)", started[0])[0])
    await run.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert run.warnings == [
        f'cron command "sleep 30" (pid {pid}) was still running: killed with the stack (uWSGI leaves it running)'
    ]
    run.tick(60)
    await asyncio.sleep(0.1)
    assert len([line for line in run.lines if "running" in line]) == 1


async def test_a_stack_runs_its_crons_with_their_output_in_the_master_log(stack):
    run = await stack("--mule", "--cron", "-1 -1 -1 -1 -1 echo from cron", "--unique-cron=-1 -1 -1 -1 -1 echo unique")
    await run.line("^from cron$", mule_id=0)
    await run.line("^unique$", mule_id=0)
    await run.line(r'^\[uwsgi-cron\] command "echo from cron" running with pid \d+ exited after', mule_id=0)
    assert not run.of(events.StackWarning)


def test_cron_options_as_uwsgi_reads_them(tmp_path):
    ini = tmp_path / "stack.ini"
    ini.write_text("[uwsgi]\nmule = true\ncron = 0 -2 * 1 7 echo never\ncron = -5 -1 -1 -1 -1   echo a  b\n")
    with pytest.raises(ConfigError, match="invalid cron syntax"):
        build(parse_argv([f"--ini={ini}"]))
    ini.write_text("[uwsgi]\nmule = true\ncron = -5 -1 -1 -1 -1   echo a  b\nunique-cron = 0 3 1 +1 7 true\n")
    plan = build(parse_argv([f"--ini={ini}"]))
    assert plan.stack.crons == [
        CronCommandSpec((-5, -1, -1, -1, -1), "echo a  b"),
        CronCommandSpec((0, 3, 1, 1, 7), "true", unique=True),
    ]
    assert plan.warnings == []
