"""Mule lifecycles in real stacks: respawn like uWSGI, throttle crash loops, operator actions."""

from __future__ import annotations

import os
import signal

import pytest

from muletui.engine import events
from muletui.engine.lifecycle import IllegalTransitionError, RespawnPolicy, SlotState, check_transition

FAST = RespawnPolicy(base_delay=0.1, free_retries=2, max_delay=0.8, stable_after=5.0)


@pytest.mark.parametrize(
    "body,code,extra",
    [
        ("pass", 0, None),
        ("raise RuntimeError('boom')", 1, "RuntimeError: boom"),
        ("import sys; sys.exit(3)", 3, None),
    ],
)
async def test_programmed_mule_ending_is_respawned_with_same_id(stack, write, body, code, extra):
    script = write("ender.py", f"print('run', flush=True)\n{body}\n")
    run = await stack(f"--mule={script}", respawn=FAST)
    await run.line("^run", count=2)
    # the new incarnation's output and the root's report of its fork come on different sockets
    await run.until(lambda: len(run.of(events.MuleSpawned)) >= 2 and run.of(events.MuleExited), what="the respawn's events")
    exited = run.of(events.MuleExited)[0]
    assert (exited.mule_id, exited.code, exited.signal, exited.expected) == (1, code, None, False)
    oops = run.matching(r"^OOOPS mule 1 \(pid: \d+\) crippled\.\.\.trying respawn\.\.\.$")
    assert oops and f"pid: {exited.pid})" in oops[0]
    spawned = run.of(events.MuleSpawned)
    assert spawned[1].mule_id == 1 and spawned[1].pid != spawned[0].pid
    if extra:
        assert run.matching(extra, 1)
    else:
        assert not run.matching("Traceback", 1)


async def test_missing_script_says_so_and_respawns(stack):
    run = await stack("--mule=does_not_exist.py", respawn=FAST)
    await run.line("^failed to open python file does_not_exist.py$", count=2)
    assert run.matching("^OOOPS mule 1")


async def test_module_callable_mule_is_called_without_arguments(stack, write):
    write("mulemod.py", "import sys\ndef run_mule(*args):\n    print('called with', args, __name__, flush=True)\n    import time; time.sleep(60)\n")
    run = await stack("--mule=mulemod:run_mule", "--pythonpath=.")
    assert await run.line("^called with") == ["called with () mulemod"]


async def test_unrecognised_program_makes_a_signal_mode_mule(stack):
    run = await stack("--mule=mulemod.run_mule")
    await run.until(lambda: run.master.mules[1].pid, what="mule 1")
    run.master.send_message(b"abc", 1)
    await run.line(r"^\*\*\* mule 1 received a 3 bytes message \*\*\*$")


async def test_crash_loop_backs_off_and_says_so(stack, write):
    script = write("crash.py", "raise SystemExit(2)\n")
    run = await stack(f"--mule={script}", respawn=FAST)
    await run.until(lambda: len(run.of(events.MuleExited)) >= 5, what="5 exits")
    backoffs = [e for e in run.of(events.MuleStateChanged) if e.new == "BACKOFF"]
    delays = [round(e.retry_at - e.t, 1) for e in backoffs[:5]]
    assert delays == [0.1, 0.1, 0.2, 0.4, 0.8]
    warnings = [w.text for w in run.of(events.StackWarning)]
    assert any("crashing in a loop" in w and "exit 2" in w for w in warnings)


async def test_stable_mule_that_dies_is_respawned_at_once(stack, write):
    script = write("stay.py", "print('up', flush=True)\nimport time; time.sleep(60)\n")
    run = await stack(f"--mule={script}", respawn=RespawnPolicy(stable_after=0.0))
    await run.line("^up")
    run.master.kill_mule(1)
    await run.line("^up", count=2)
    exited = run.of(events.MuleExited)[0]
    assert (exited.signal, exited.code, exited.expected) == ("SIGKILL", None, False)
    assert [e.new for e in run.of(events.MuleStateChanged)][-2:] == ["STARTING", "RUNNING"]


async def test_operator_stop_is_not_a_crash_and_restart_brings_it_back(stack, write):
    script = write("stay.py", "print('up', flush=True)\nimport time; time.sleep(60)\n")
    run = await stack(f"--mule={script}", "--mule")
    await run.line("^up")
    run.master.stop_mule(1)
    await run.until(lambda: run.master.mules[1].state is SlotState.STOPPED, what="STOPPED")
    exited = run.of(events.MuleExited)[0]
    assert (exited.code, exited.expected) == (30, True)  # uWSGI's end_me status
    assert not run.matching("^OOOPS")
    assert [e.new for e in run.of(events.MuleStateChanged) if e.mule_id == 1][-2:] == ["STOPPING", "STOPPED"]
    run.master.restart_mule(1)
    await run.line("^up", count=2)
    assert run.master.mules[1].state is SlotState.RUNNING


async def test_reload_respawns_every_mule_without_oops(stack, write):
    script = write("stay.py", "print('up', flush=True)\nimport time; time.sleep(60)\n")
    run = await stack(f"--mule={script}", "--mule", "--mule")
    await run.until(lambda: all(m.pid for m in run.master.mules.values()), what="3 mules")
    before = {m.number: m.pid for m in run.master.mules.values()}
    run.master.reload_mules()
    await run.until(lambda: len(run.of(events.MuleSpawned)) == 6, what="3 respawns")
    after = {m.number: m.pid for m in run.master.mules.values()}
    assert all(after[i] and after[i] != before[i] for i in before)
    assert not run.matching("^OOOPS")


async def test_reload_mercy_kills_a_stubborn_mule(stack, write):
    stubborn = write(
        "stubborn.py",
        """
        import signal, time
        signal.signal(signal.SIGHUP, lambda *a: print("ignoring SIGHUP", flush=True))
        print("up", flush=True)
        while True:
            time.sleep(0.1)
        """,
    )
    run = await stack(f"--mule={stubborn}", "--mule-reload-mercy=1")
    await run.line("^up")
    run.master.restart_mule(1)
    await run.line("^ignoring SIGHUP")
    await run.line(r"^mule 1 \(pid: \d+\) is taking too much time to die\.\.\.NO MERCY !!!$")
    await run.line("^up", count=2)


async def test_stack_root_death_is_fatal_and_leaves_no_mule(stack):
    run = await stack("--mule", "--mule")
    await run.until(lambda: all(m.pid for m in run.master.mules.values()), what="mules")
    os.kill(run.master.root_pid, signal.SIGKILL)
    await run.master.wait_stopped()
    assert {m.state for m in run.master.mules.values()} == {SlotState.FATAL}
    assert run.of(events.StackFailed)


def test_illegal_transitions_are_refused():
    check_transition(SlotState.RUNNING, SlotState.BACKOFF)
    with pytest.raises(IllegalTransitionError):
        check_transition(SlotState.STOPPED, SlotState.RUNNING)


def test_respawn_policy_grows_and_caps():
    policy = RespawnPolicy(base_delay=1.0, free_retries=3, max_delay=30.0)
    assert [policy.delay(n) for n in range(1, 10)] == [1, 1, 1, 2, 4, 8, 16, 30, 30]
