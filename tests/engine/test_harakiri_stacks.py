"""Harakiri and the mule's debugger (issue 13): a mule killed by harakiri first shows its live
stacks in uWSGI's tracebacker format; a mule at its ``(Pdb)`` prompt is spared, and its deadline
moves on by the time it waited there."""

from __future__ import annotations

import re
import time

from muletui.engine import events

SLOW_HANDLER = """
import time, uwsgi

def slow_inner(seconds):
    time.sleep(seconds)

def handler(signum):
    slow_inner(10)

uwsgi.register_signal(20, "mule1", handler)
"""


async def test_harakiri_logs_the_mules_stacks_before_it_kills(stack, write):
    app = write("app.py", SLOW_HANDLER)
    run = await stack(f"--wsgi-file={app}", "--mule", "--mule-harakiri", "1")
    await run.until(lambda: run.master.mules[1].pid, what="mule 1")
    pid = run.master.mules[1].pid
    run.master.raise_signal(20)
    await run.line(rf"^OOOPS mule 1 \(pid: {pid}\) crippled", timeout=8)
    log = run.texts(0)
    start = log.index(f"*** HARAKIRI ON MULE 1 HANDLING SIGNAL 20 (pid: {pid}) ***")
    dump = log[start + 1 : log.index(f"OOOPS mule 1 (pid: {pid}) crippled...trying respawn...")]
    assert dump == [
        "*** uWSGI Python tracebacker output ***",
        "",
        f"thread_id = MainThread filename = {app} lineno = 8 function = handler line = slow_inner(10)",
        f"thread_id = MainThread filename = {app} lineno = 5 function = slow_inner line = time.sleep(seconds)",
        "",
    ]
    assert run.of(events.MuleExited)[0].signal == "SIGKILL"


HOLDS_THE_GIL = """
import re, uwsgi
uwsgi.set_user_harakiri(1)
print("matching", flush=True)
re.match(r"(a+)+$", "a" * 64 + "b")  # catastrophic backtracking, all in C, holding the GIL
"""


async def test_a_mule_that_cannot_show_its_stacks_is_killed_all_the_same(stack, write):
    run = await stack(f"--mule={write('stuck.py', HOLDS_THE_GIL)}")
    await run.line("^matching$", mule_id=1)
    pid = run.master.mules[1].pid
    await run.line(rf"^OOOPS mule 1 \(pid: {pid}\) crippled", timeout=8)
    log = run.texts(0)
    start = log.index(f"*** HARAKIRI ON MULE 1 (pid: {pid}) ***")
    assert log[start + 1] == f"mule 1 (pid: {pid}) showed no stack within 0.5 s"


STOPS = """
import time, uwsgi
uwsgi.set_user_harakiri(2)
breakpoint()
print("going on", flush=True)
time.sleep(30)
"""


async def test_a_mule_at_its_prompt_is_spared_and_its_deadline_moves_on(stack, write):
    run = await stack(f"--mule={write('stops.py', STOPS)}", debugger=True)
    await run.until(lambda: run.of(events.DebuggerStopped), what="the debugger stops")
    pid = run.master.mules[1].pid
    waits = rf"^harakiri waits: mule 1 \(pid: {pid}\) is at its \(Pdb\) prompt \(.*stops\.py:5\)"
    await run.line(waits, timeout=5)
    # Two more watchdog cycles past the deadline: still spared, and said once per stop.
    ticks = time.monotonic() + 2.2
    await run.until(lambda: time.monotonic() > ticks, timeout=5, what="two more cycles")
    assert run.master.mules[1].pid == pid and len(run.matching(waits)) == 1
    assert not run.matching(r"^\*\*\* HARAKIRI")
    assert run.master.agents.type_line(1, "c")
    await run.line("^going on$", mule_id=1)
    resumed = time.monotonic()
    # Stopped right after arming 2 s, so ~2 s are left after the prompt: not the next cycle.
    await run.line(rf"^\*\*\* HARAKIRI ON MULE 1 \(pid: {pid}\) \*\*\*$", timeout=6)
    assert time.monotonic() - resumed > 1.2
    await run.line(rf"^OOOPS mule 1 \(pid: {pid}\) crippled")
    dump = run.texts(0)
    assert any(re.fullmatch(r"thread_id = MainThread filename = .*stops\.py lineno = 6 function = <module> "
                            r"line = time\.sleep\(30\)", line) for line in dump), dump
