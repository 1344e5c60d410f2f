"""``--debug-on-crash`` (issue 13): an uncaught exception that ends a programmed mule prints its
traceback, then stops the mule in post-mortem debugging at the failing frame; leaving the prompt
lets the mule die and respawn. ``MuleAgents.set_post_mortem`` toggles it while the stack runs."""

from __future__ import annotations

from muletui.engine import events
from muletui.engine.lifecycle import RespawnPolicy

QUICK = RespawnPolicy(base_delay=0.05)

CRASHES = """
x = 42

def fail(y):
    return y / 0

print("starting", flush=True)
fail(x)
"""


def said(run, mule_id: int = 1) -> str:
    return "".join(event.text for event in run.of(events.DebuggerOutput) if event.mule_id == mule_id)


async def test_a_crash_stops_at_the_failing_frame_and_the_mule_respawns_after(stack, write):
    script = write("crash.py", CRASHES)
    run = await stack(f"--mule={script}", "--debug-on-crash", debugger=True, respawn=QUICK)
    await run.until(lambda: run.of(events.DebuggerStopped), what="post-mortem")
    stop = run.of(events.DebuggerStopped)[0]
    assert (stop.file, stop.line, stop.function, stop.post_mortem) == (script, 5, "fail", True)
    await run.line("^ZeroDivisionError: division by zero$", mule_id=1)
    assert not run.of(events.MuleExited)  # it waits at the prompt
    await run.until(lambda: said(run).endswith("(Pdb) "), what="the prompt")
    assert "-> return y / 0" in said(run)
    assert run.master.agents.type_line(1, "p y")
    await run.until(lambda: "42\n(Pdb) " in said(run), what="p y")
    assert run.master.agents.type_line(1, "up")
    await run.until(lambda: "-> fail(x)\n(Pdb) " in said(run), what="up, to the script's frame")
    assert run.master.agents.type_line(1, "c")
    await run.until(lambda: run.of(events.MuleExited), what="the mule's exit")
    assert run.of(events.MuleExited)[0].code == 1
    await run.until(lambda: len(run.of(events.DebuggerStopped)) == 2, what="the next incarnation's crash")
    assert run.master.agents.type_line(1, "q")
    await run.until(lambda: len(run.of(events.MuleExited)) == 2, what="q: the mule exits")


WAITS_THEN_FAILS = """
import uwsgi
print("ready", flush=True)
raise RuntimeError(uwsgi.mule_get_msg().decode())
"""


async def test_post_mortem_toggled_at_run_time_reaches_running_and_later_mules(stack, write):
    run = await stack(f"--mule={write('fails.py', WAITS_THEN_FAILS)}", debugger=True, respawn=QUICK)
    await run.line("^ready$", mule_id=1)
    run.master.send_message(b"off", 1)
    await run.line("^RuntimeError: off$", mule_id=1)
    await run.line("^ready$", mule_id=1, count=2)
    assert not run.of(events.DebuggerStopped)

    run.master.agents.set_post_mortem(True)  # to the running incarnation
    await run.master.agents.stacks(1)  # a round trip: the agent has taken the toggle before it
    run.master.send_message(b"on", 1)
    await run.until(lambda: run.of(events.DebuggerStopped), what="post-mortem")
    assert run.of(events.DebuggerStopped)[0].post_mortem
    assert run.master.agents.type_line(1, "q")
    # The next incarnation, spawned after the toggle, crashes at once: it stops too.
    await run.line("^ready$", mule_id=1, count=3)
    run.master.send_message(b"again", 1)
    await run.until(lambda: len(run.of(events.DebuggerStopped)) == 2, what="post-mortem in a new mule")
    run.master.agents.set_post_mortem(False)
    assert run.master.agents.type_line(1, "c")
    await run.line("^ready$", mule_id=1, count=4)
    run.master.send_message(b"off again", 1)
    await run.line("^RuntimeError: off again$", mule_id=1)
    await run.line("^ready$", mule_id=1, count=5)
    assert len(run.of(events.DebuggerStopped)) == 2


async def test_without_a_front_end_that_debugs_it_warns_once_and_changes_nothing(stack, write):
    run = await stack(f"--mule={write('crash.py', CRASHES)}", "--debug-on-crash", respawn=QUICK)
    await run.line("^ZeroDivisionError: division by zero$", mule_id=1, count=2)
    assert [event.text for event in run.of(events.StackWarning)] == [
        "--debug-on-crash needs the console or a terminal on stdin"
    ]
    assert not run.of(events.DebuggerStopped)


QUITS = """
x = 1
breakpoint()
print("not reached", flush=True)
"""


async def test_quitting_a_breakpoint_is_no_crash_to_debug(stack, write):
    run = await stack(f"--mule={write('quits.py', QUITS)}", "--debug-on-crash", debugger=True, respawn=QUICK)
    await run.until(lambda: run.of(events.DebuggerStopped), what="the breakpoint")
    assert run.master.agents.type_line(1, "q")
    await run.line("^bdb.BdbQuit$", mule_id=1)
    await run.until(lambda: run.of(events.MuleExited), what="the mule's exit")
    assert not any(stop.post_mortem for stop in run.of(events.DebuggerStopped))
