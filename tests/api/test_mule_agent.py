"""A mule's agent in real stacks: live stacks and evaluation while the mule runs, and
``breakpoint()`` stopping the mule at a prompt the master drives (issue 13, engine side)."""

from __future__ import annotations

import pytest

from muletui.engine import events
from muletui.engine.agents import MuleGoneError

SLEEPER = """
import time
counter = 41

def nap_forever():
    print("napping", flush=True)
    while True:
        time.sleep(0.05)

nap_forever()
"""


async def test_live_stacks_and_evaluation_while_the_mule_runs(stack, write):
    run = await stack(f"--mule={write('sleeper.py', SLEEPER)}")
    await run.line("^napping$", mule_id=1)
    # The main thread sleeps nearly all the time: poll until a stack catches it asleep.
    for _ in range(40):
        stacks = await run.master.agents.stacks(1)
        user = [frame for frame in stacks[0].frames if not frame.internal]
        if user[-1].source == "time.sleep(0.05)":
            break
    assert stacks[0].main and stacks[0].name == "MainThread"
    assert [frame.function for frame in user] == ["<module>", "nap_forever"]
    assert user[-1].source == "time.sleep(0.05)"
    assert (await run.master.agents.evaluate(1, "counter + 1")).text == "42"
    assert (await run.master.agents.evaluate(1, "counter = 7")).ok
    assert (await run.master.agents.evaluate(1, "counter")).text == "7"
    failed = await run.master.agents.evaluate(1, "1 / 0")
    assert not failed.ok and failed.text.endswith("ZeroDivisionError: division by zero")
    with pytest.raises(MuleGoneError):
        await run.master.agents.stacks(2)


BREAKS = """
import uwsgi
x = 42
breakpoint()
y = x + 1
print("after the breakpoint", y, flush=True)
import time
while True:
    time.sleep(1)
"""


async def test_a_breakpoint_stops_the_mule_at_a_prompt_the_master_drives(stack, write):
    script = write("breaks.py", BREAKS)
    run = await stack(f"--mule={script}", debugger=True)
    await run.until(lambda: run.of(events.DebuggerStopped), what="the debugger stops")
    stop = run.of(events.DebuggerStopped)[0]
    assert (stop.mule_id, stop.file, stop.line, stop.function) == (1, script, 5, "<module>")
    assert run.master.agents.stopped_at(1) is not None

    def said() -> str:
        return "".join(event.text for event in run.of(events.DebuggerOutput))

    await run.until(lambda: said().endswith("(Pdb) "), what="the prompt")
    assert "-> y = x + 1" in said()
    assert run.master.agents.type_line(1, "p x")
    await run.until(lambda: "42\n(Pdb) " in said(), what="p x")
    before = len(said())
    assert run.master.agents.type_line(1, "p list(range(10**6))")  # 7 MB of answer
    await run.until(lambda: said().endswith("more characters not shown\n(Pdb) "), what="the answer, cut")
    assert len(said()) - before < 70_000
    assert run.master.agents.type_line(1, "c")
    await run.line("^after the breakpoint 43$", mule_id=1)
    await run.until(lambda: run.of(events.DebuggerResumed), what="resumed")
    assert run.master.agents.stopped_at(1) is None
    assert not run.master.agents.type_line(1, "p x")  # no prompt waits


LOOPS_ON_A_BREAKPOINT = """
for n in range(3):
    breakpoint()
    print("went on", n, flush=True)
import time
time.sleep(3600)
"""


async def test_without_a_debugger_a_breakpoint_is_one_warning_and_the_mule_goes_on(stack, write):
    run = await stack(f"--mule={write('breaks.py', BREAKS)}", f"--mule={write('loops.py', LOOPS_ON_A_BREAKPOINT)}")
    await run.line("^after the breakpoint 43$", mule_id=1)
    await run.line("^went on 2$", mule_id=2)
    warnings = [event.text for event in run.of(events.StackWarning)]
    assert any(text.startswith("mule 1: breakpoint at ") and text.endswith(
        "breaks.py:4 skipped: no terminal to debug on (use the console, or run headless with a terminal on stdin)"
    ) for text in warnings), warnings
    assert len([text for text in warnings if "loops.py:3 skipped" in text]) == 1  # once per place, not per hit
    assert not any("skipped" in text for text in run.texts(1) + run.texts(2))  # the master's line only


async def test_an_evaluation_given_up_on_is_interrupted_in_the_mule(stack, write):
    run = await stack(f"--mule={write('sleeper.py', SLEEPER)}")
    await run.line("^napping$", mule_id=1)
    # threads running a typed line, besides the one that counts them
    evaluating = "sum(f.f_code.co_filename == '<prompt>' for f in __import__('sys')._current_frames().values()) - 1"
    assert (await run.master.agents.evaluate(1, evaluating)).text == "0"
    with pytest.raises(TimeoutError):
        await run.master.agents.evaluate(1, "while True: pass", timeout=0.3)
    for _ in range(100):  # the spinning thread gets KeyboardInterrupt and ends
        if (await run.master.agents.evaluate(1, evaluating)).text == "0":
            break
    else:
        pytest.fail("the given-up evaluation still runs")
    assert (await run.master.agents.evaluate(1, "counter")).text == "41"


MANY_THREADS = """
import threading, time
for _ in range(1500):
    threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()
print("crowded", flush=True)
time.sleep(3600)
"""


async def test_stacks_of_more_threads_than_one_datagram_holds_say_how_many_are_left_out(stack, write):
    run = await stack(f"--mule={write('crowded.py', MANY_THREADS)}")
    await run.line("^crowded$", mule_id=1, timeout=20)
    stacks = await run.master.agents.stacks(1)
    assert stacks[0].main and stacks[-1].name.endswith("more threads not shown)")
    shown = len(stacks) - 1
    assert stacks[-1].name == f"({1500 + 1 - shown} more threads not shown)"
    assert not run.of(events.StackWarning)  # nothing was cut short on the wire


DEEP = """
import sys, threading, time
sys.setrecursionlimit(5000)

def down(n, say=False):
    if n:
        return down(n - 1, say)
    if say:
        print("deep", flush=True)
    time.sleep(3600)

for _ in range(3):
    threading.Thread(target=down, args=(900,), daemon=True).start()
down(900, say=True)
"""


async def test_stacks_too_deep_for_one_datagram_keep_their_innermost_frames(stack, write):
    run = await stack(f"--mule={write('deep.py', DEEP)}")
    await run.line("^deep$", mule_id=1)
    for _ in range(40):  # until each thread is caught asleep, past its print
        stacks = await run.master.agents.stacks(1)
        if all(thread.frames[-1].source == "time.sleep(3600)" for thread in stacks):
            break
    assert len(stacks) == 4
    for thread in stacks:
        assert thread.frames[-1].source == "time.sleep(3600)"
        assert 1 < len(thread.frames) < 900
