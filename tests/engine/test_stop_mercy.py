"""Stopping a mule that ignores its signal: uWSGI 2.0.30 SIGKILLs it once its mercy ran out, with
``mule 1 (pid: N) is taking too much time to die...NO MERCY !!!`` (measured: SIGINT to the
mule; with ``--mule-reload-mercy 3`` the line came 4.0 s after the SIGINT on uWSGI's 1-s clock,
then ``mule 1 (pid: N) annihilated`` and ``goodbye to uWSGI.``). muletui gives exactly the
mercy when it is given, and its quick :attr:`Master.shutdown_grace` otherwise, saying so too."""

from __future__ import annotations

import time

from conftest import StackRun

from muletui.config.builder import build
from muletui.config.options import parse_argv
from muletui.engine import events
from muletui.engine.master import Master

STUBBORN = """
import signal, time
signal.signal(signal.SIGINT, lambda *a: print("ignoring SIGINT", flush=True))
print("up", flush=True)
while True:
    time.sleep(0.05)
"""
NO_MERCY = r"^mule 1 \(pid: \d+\) is taking too much time to die\.\.\.NO MERCY !!!$"


async def _stop_timed(run: StackRun) -> float:
    await run.line("^up")
    asked = time.monotonic()
    await run.master.stop()
    return time.monotonic() - asked


def _ending(run: StackRun) -> list[str]:
    return [text for _m, stream, text in run.lines if stream == "log"][-3:]


async def test_the_given_mercy_is_honoured_at_stop(stack, write):
    stubborn = write("stubborn.py", STUBBORN)
    run = await stack(f"--mule={stubborn}", "--mule", "--mule-reload-mercy=1")
    took = await _stop_timed(run)
    assert 1.0 <= took < 2.5
    assert run.matching("^ignoring SIGINT")
    pid = next(e.pid for e in run.of(events.MuleSpawned) if e.mule_id == 1)
    assert _ending(run) == [
        f"mule 1 (pid: {pid}) is taking too much time to die...NO MERCY !!!",
        f"mule 1 (pid: {pid}) annihilated",
        "goodbye to uWSGI.",
    ]
    assert len(run.matching(NO_MERCY)) == 1  # mule 2 left at once


async def test_the_quick_default_grace_kills_with_the_same_line(write, tmp_path):
    stubborn = write("stubborn.py", STUBBORN)
    plan = build(parse_argv([f"--mule={stubborn}"]))
    plan.stack.chdir = str(tmp_path)
    run = StackRun(Master(plan.stack, shutdown_grace=0.3))
    await run.master.start()
    took = await _stop_timed(run)
    assert 0.3 <= took < 2.0
    assert len(run.matching(NO_MERCY)) == 1
    assert run.texts(0)[-1] == "goodbye to uWSGI."


async def test_a_mule_that_leaves_gets_no_line(stack, write):
    quiet = write("quiet.py", "import time\nprint('up', flush=True)\ntime.sleep(60)\n")
    run = await stack(f"--mule={quiet}")
    took = await _stop_timed(run)
    assert took < 1.0
    assert not run.matching(NO_MERCY)
