"""The lifecycle's decisions, without processes: every state and action, on a frozen clock.

Effects are read back as short lines (:func:`said`) so a test shows what the master would do,
in order; log and warning texts are uWSGI's and muletui's exact lines.
"""

from __future__ import annotations

import signal

import pytest

from muletui.engine import events
from muletui.engine.lifecycle import (
    CancelRetry,
    Effect,
    Lifecycle,
    Publish,
    RespawnPolicy,
    RetryIn,
    Signal,
    Slot,
    SlotState,
    Spawn,
)

S = SlotState
PID = 4001
MERCY = 60.0


class Clock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def said(effects: list[Effect]) -> list[str]:
    """One short line per effect."""
    lines = []
    for effect in effects:
        match effect:
            case Publish(events.MasterLog(text=text)):
                lines.append(f"log: {text}")
            case Publish(events.StackWarning(text=text, mule_id=number)):
                lines.append(f"warn {number}: {text}")
            case Publish(events.MuleStateChanged(mule_id=number, old=old, new=new)):
                lines.append(f"{number} {old} -> {new}")
            case Publish(events.MuleSpawned(mule_id=number, pid=pid, incarnation=incarnation)):
                lines.append(f"spawned {number} pid {pid} #{incarnation}")
            case Publish(events.MuleExited() as exited):
                lines.append(f"exited {exited.mule_id} pid {exited.pid} {exited.description}" + " expected" * exited.expected)
            case Spawn(slot):
                lines.append(f"fork {slot.number}")
            case Signal(slot, pid, signum, mercy):
                lines.append(f"{signum.name} {slot.number} pid {pid}" + (f" mercy {mercy:g}s" if mercy is not None else ""))
            case RetryIn(slot, seconds):
                lines.append(f"retry {slot.number} in {seconds:g}s")
            case CancelRetry(slot):
                lines.append(f"cancel retry {slot.number}")
            case _:
                raise AssertionError(f"unexpected effect {effect!r}")
    return lines


def exit_status(code: int) -> int:
    """The wait status of a process that exited with ``code``."""
    return code << 8


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def life(clock: Clock) -> Lifecycle:
    return Lifecycle(RespawnPolicy(base_delay=1.0, free_retries=3, max_delay=30.0, stable_after=10.0), MERCY, clock)


def slot_in(state: SlotState, number: int = 1, **fields: object) -> Slot:
    """A slot as the lifecycle leaves it in ``state``: a pid while its process runs, a retry time
    while it backs off."""
    slot = Slot("mule", number, state=state)
    if state in (S.RUNNING, S.STOPPING):
        slot.pid = PID + number - 1
    if state is S.BACKOFF:
        slot.retry_at = 1001.0
    for name, value in fields.items():
        setattr(slot, name, value)
    return slot


def running(life: Lifecycle, number: int = 1) -> Slot:
    """A slot spawned through the lifecycle, its process running as ``PID + number - 1``."""
    slot = Slot("mule", number)
    life.spawn(slot)
    life.spawned(slot, PID + number - 1)
    return slot


# -- spawning ------------------------------------------------------------------------------


def test_first_spawn_forks_without_a_state_change(life):
    slot = Slot("mule", 1)
    assert said(life.spawn(slot)) == ["fork 1"]
    assert slot.state is S.STARTING


def test_spawned_runs_and_is_announced(life, clock):
    slot = Slot("mule", 2)
    life.spawn(slot)
    clock.now = 1005.0
    assert said(life.spawned(slot, 4242)) == [
        "log: spawned uWSGI mule 2 (pid: 4242)",
        "spawned 2 pid 4242 #1",
        "2 STARTING -> RUNNING",
    ]
    assert (slot.state, slot.pid, slot.incarnation, slot.started_at) == (S.RUNNING, 4242, 1, 1005.0)


@pytest.mark.parametrize("asked", ["restart", "stop"])
def test_restart_or_stop_asked_while_starting_is_carried_out_once_spawned(life, asked):
    """A mule's first line may come before the root's news of its fork: a restart or a stop
    asked for then (the console's ``r`` or ``s``) is carried out once it runs, not dropped."""
    slot = Slot("mule", 1)
    life.spawn(slot)
    assert getattr(life, asked)(slot) == []
    assert said(life.spawned(slot, PID)) == [
        "log: spawned uWSGI mule 1 (pid: 4001)",
        "spawned 1 pid 4001 #1",
        "1 STARTING -> RUNNING",
        "1 RUNNING -> STOPPING",
        "SIGHUP 1 pid 4001 mercy 60s",
    ]
    assert slot.stop_requested and slot.restart_after_stop is (asked == "restart")


def test_of_a_stop_and_a_restart_asked_while_starting_the_latest_wins(life):
    for first, last in (("stop", "restart"), ("restart", "stop")):
        slot = Slot("mule", 1)
        life.spawn(slot)
        getattr(life, first)(slot)
        getattr(life, last)(slot)
        life.spawned(slot, PID)
        assert slot.restart_after_stop is (last == "restart")


def test_spawned_while_the_stack_stops_gets_the_stop_signal(life):
    slot = Slot("mule", 1)
    life.spawn(slot)
    assert said(life.stop_stack([slot], signal.SIGINT)) == ["1 STARTING -> STOPPING"]
    assert said(life.spawned(slot, PID)) == [
        "log: spawned uWSGI mule 1 (pid: 4001)",
        "spawned 1 pid 4001 #1",
        "SIGINT 1 pid 4001",
    ]
    assert slot.state is S.STOPPING


def test_a_new_spawn_forgets_what_the_last_incarnation_was_asked(life):
    slot = slot_in(S.STOPPING, stop_requested=True, restart_after_stop=True, reload_when_spawned=True, stop_when_spawned=True)
    life.spawn(slot)
    assert not (slot.stop_requested or slot.restart_after_stop or slot.reload_when_spawned or slot.stop_when_spawned)


# -- exits while running: crashes ----------------------------------------------------------


def test_quick_crash_backs_off_a_second_with_uwsgis_line(life, clock):
    slot = running(life)
    clock.now += 2.0
    assert said(life.exited(slot, PID, exit_status(1))) == [
        "exited 1 pid 4001 exit 1",
        "log: OOOPS mule 1 (pid: 4001) crippled...trying respawn...",
        "1 RUNNING -> BACKOFF",
        "retry 1 in 1s",
    ]
    assert (slot.state, slot.pid, slot.respawns, slot.quick_crashes) == (S.BACKOFF, 0, 1, 1)
    assert slot.retry_at == clock.now + 1.0 and slot.last_exit == "exit 1"


def test_crash_event_carries_uptime_and_the_killing_signal(life, clock):
    slot = running(life)
    clock.now += 2.5
    effects = life.exited(slot, PID, signal.SIGKILL)
    exited = effects[0]
    assert isinstance(exited, Publish) and isinstance(exited.event, events.MuleExited)
    assert exited.event.as_dict() | {"t": 0} == {
        "kind": "mule_exited", "t": 0, "mule_id": 1, "pid": PID, "code": None, "signal": "SIGKILL",
        "uptime": 2.5, "expected": False,
    }
    assert slot.last_exit == "killed by SIGKILL"


def test_backoff_state_change_carries_the_retry_time(life, clock):
    slot = running(life)
    moved = [e.event for e in life.exited(slot, PID, exit_status(1)) if isinstance(e, Publish)][-1]
    assert isinstance(moved, events.MuleStateChanged) and moved.retry_at == clock.now + 1.0


def test_crash_loop_doubles_the_delay_and_warns_after_the_free_retries(life, clock):
    slot = running(life)
    delays, warnings = [], []
    for _ in range(7):
        effects = life.exited(slot, slot.pid, exit_status(2))
        delays += [e.seconds for e in effects if isinstance(e, RetryIn)]
        warnings += [line for line in said(effects) if line.startswith("warn")]
        clock.now += delays[-1]
        life.retry_due(slot)
        life.spawned(slot, slot.incarnation + PID)
    assert delays == [1, 1, 1, 2, 4, 8, 16]
    assert warnings[0] == (
        "warn 1: mule 1 is crashing in a loop (4 quick exits in a row, last: exit 2): "
        "next respawn in 2s (uWSGI would retry every second)"
    )
    assert len(warnings) == 4 and slot.respawns == 7


def test_crash_after_a_stable_uptime_respawns_at_once_and_ends_the_loop(life, clock):
    slot = running(life)
    slot.quick_crashes = 5
    clock.now += 10.0
    assert said(life.exited(slot, PID, exit_status(1))) == [
        "exited 1 pid 4001 exit 1",
        "log: OOOPS mule 1 (pid: 4001) crippled...trying respawn...",
        "1 RUNNING -> STARTING",
        "fork 1",
    ]
    assert (slot.quick_crashes, slot.respawns, slot.retry_at) == (0, 1, None)


def test_backoff_timer_due_respawns(life):
    slot = slot_in(S.BACKOFF)
    assert said(life.retry_due(slot)) == ["1 BACKOFF -> STARTING", "fork 1"]
    assert slot.retry_at is None


# -- exits while stopping ------------------------------------------------------------------


def test_exit_after_a_stop_is_expected_and_stays_down(life):
    slot = running(life)
    life.stop(slot)
    assert said(life.exited(slot, PID, exit_status(30))) == ["exited 1 pid 4001 exit 30 expected", "1 STOPPING -> STOPPED"]
    assert (slot.respawns, slot.pid) == (0, 0)


def test_exit_after_a_restart_respawns_without_oops(life):
    slot = running(life)
    life.restart(slot)
    assert said(life.exited(slot, PID, exit_status(30))) == [
        "exited 1 pid 4001 exit 30 expected",
        "1 STOPPING -> STARTING",
        "fork 1",
    ]
    assert slot.respawns == 1 and not slot.stop_requested


def test_reload_restarts_every_slot_after_its_cause(life):
    slots = [running(life, 1), slot_in(S.BACKOFF, 2), slot_in(S.STOPPED, 3), slot_in(S.STARTING, 4)]
    assert said(life.reload(slots, "SIGHUP received")) == [
        "log: SIGHUP received: reloading mules...",
        "1 RUNNING -> STOPPING",
        "SIGHUP 1 pid 4001 mercy 60s",
        "cancel retry 2",
        "2 BACKOFF -> STARTING",
        "fork 2",
        "3 STOPPED -> STARTING",
        "fork 3",
    ]
    assert slots[3].reload_when_spawned
    assert said(life.exited(slots[0], PID, exit_status(30)))[1:] == ["1 STOPPING -> STARTING", "fork 1"]


def test_reload_without_a_cause_says_nothing(life):
    assert said(life.reload([running(life)]))[0] == "1 RUNNING -> STOPPING"


def test_exit_while_the_stack_stops_is_annihilated_even_when_a_restart_was_asked(life):
    slot = running(life)
    life.restart(slot)
    life.stop_stack([slot], signal.SIGINT)
    assert said(life.exited(slot, PID, signal.SIGINT)) == [
        "exited 1 pid 4001 killed by SIGINT expected",
        "log: mule 1 (pid: 4001) annihilated",
        "1 STOPPING -> STOPPED",
    ]


# -- actions in every state ----------------------------------------------------------------


@pytest.mark.parametrize(
    "state,expected",
    [
        (S.STARTING, []),
        (S.RUNNING, ["1 RUNNING -> STOPPING", "SIGHUP 1 pid 4001 mercy 60s"]),
        (S.BACKOFF, ["cancel retry 1", "1 BACKOFF -> STOPPED"]),
        (S.STOPPING, []),
        (S.STOPPED, []),
        (S.FATAL, []),
    ],
)
def test_stop(life, state, expected):
    slot = slot_in(state)
    assert said(life.stop(slot)) == expected
    assert slot.stop_requested is (state is S.RUNNING)
    if state is S.BACKOFF:
        assert slot.retry_at is None


@pytest.mark.parametrize(
    "state,expected",
    [
        (S.STARTING, []),
        (S.RUNNING, ["1 RUNNING -> STOPPING", "SIGHUP 1 pid 4001 mercy 60s"]),
        (S.BACKOFF, ["cancel retry 1", "1 BACKOFF -> STARTING", "fork 1"]),
        (S.STOPPING, []),
        (S.STOPPED, ["1 STOPPED -> STARTING", "fork 1"]),
        (S.FATAL, ["1 FATAL -> STARTING", "fork 1"]),
    ],
)
def test_restart(life, state, expected):
    slot = slot_in(state, quick_crashes=4)
    assert said(life.restart(slot)) == expected
    assert slot.restart_after_stop is (state in (S.RUNNING, S.STOPPING))
    assert slot.reload_when_spawned is (state is S.STARTING)
    assert slot.quick_crashes == (0 if expected and expected[-1] == "fork 1" else 4)


@pytest.mark.parametrize("state", list(S))
def test_kill_signals_only_a_running_process_and_keeps_its_state(life, state):
    slot = slot_in(state)
    assert said(life.kill(slot)) == (["SIGKILL 1 pid 4001"] if slot.pid else [])
    assert slot.state is state and not slot.stop_requested


def test_killed_process_is_a_crash(life):
    slot = running(life)
    life.kill(slot)
    assert said(life.exited(slot, PID, signal.SIGKILL))[1] == "log: OOOPS mule 1 (pid: 4001) crippled...trying respawn..."


def test_mercy_over_kills_the_same_incarnation_with_uwsgis_line(life):
    slot = running(life)
    life.stop(slot)
    assert said(life.outlived_mercy(slot, PID)) == [
        "log: mule 1 (pid: 4001) is taking too much time to die...NO MERCY !!!",
        "SIGKILL 1 pid 4001",
    ]


def test_mercy_over_spares_a_later_incarnation(life):
    slot = running(life)
    life.restart(slot)
    life.exited(slot, PID, exit_status(30))
    life.spawned(slot, PID + 10)
    assert life.outlived_mercy(slot, PID) == []


# -- the stack -----------------------------------------------------------------------------


def every_state() -> list[Slot]:
    """One slot per state, numbered 1 to 6 in :class:`SlotState`'s order."""
    return [slot_in(state, number) for number, state in enumerate(S, start=1)]


def test_stack_stop_signals_what_runs_and_stops_what_waits(life):
    slots = every_state()
    assert said(life.stop_stack(slots, signal.SIGINT)) == [
        "1 STARTING -> STOPPING",
        "2 RUNNING -> STOPPING",
        "SIGINT 2 pid 4002",
        "cancel retry 3",
        "3 BACKOFF -> STOPPED",
    ]
    assert [slot.state for slot in slots] == [S.STOPPING, S.STOPPING, S.STOPPED, S.STOPPING, S.STOPPED, S.FATAL]
    assert [slot.stop_requested for slot in slots] == [True, True, False, False, False, False]


def test_stack_stopped_annihilates_what_was_not_heard_of(life):
    slots = every_state()
    assert said(life.stack_stopped(slots)) == [
        "1 STARTING -> STOPPING",
        "1 STOPPING -> STOPPED",
        "log: mule 2 (pid: 4002) annihilated",
        "2 RUNNING -> STOPPING",
        "2 STOPPING -> STOPPED",
        "log: mule 4 (pid: 4004) annihilated",
        "4 STOPPING -> STOPPED",
    ]
    assert [slot.state for slot in slots] == [S.STOPPED, S.STOPPED, S.BACKOFF, S.STOPPED, S.STOPPED, S.FATAL]
    assert not any(slot.pid for slot in slots)


def test_root_death_is_fatal_for_every_slot(life):
    slots = every_state()
    assert said(life.root_died(slots)) == [
        "1 STARTING -> FATAL",
        "2 RUNNING -> FATAL",
        "cancel retry 3",
        "3 BACKOFF -> FATAL",
        "4 STOPPING -> FATAL",
        "5 STOPPED -> FATAL",
    ]
    assert {slot.state for slot in slots} == {S.FATAL}
    assert not any(slot.pid or slot.retry_at for slot in slots)
