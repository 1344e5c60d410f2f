"""Trap detection, pure: events and snapshots in, hints out."""

from __future__ import annotations

from muletui.engine import events
from muletui.engine.lifecycle import SlotState
from muletui.engine.snapshot import MuleView, StackSnapshot
from muletui.engine.traps import TrapSpotter
from muletui.ipc.stats_block import Activity


def receipt(mule: int, queue: str = "shared", mulefunc: str = "", **extra: bool) -> events.MessageReceived:
    preview = f"{mulefunc}('photo-4.jpg', 128)" if mulefunc else "request 4 served"
    flags = {"maybe_truncated": False, "swallowed": False} | extra
    return events.MessageReceived(mule_id=mule, queue=queue, size=98, preview=preview, mulefunc=mulefunc, **flags)


def keys(spotter: TrapSpotter, *batch: events.Event) -> list[str]:
    return [trap.key for trap in spotter.spot_events(batch)]


def test_a_mulefunc_call_run_by_a_signal_mode_mule_is_no_trap():
    """The offload lesson's intended path: an id-less @mulefunc taken by a signal-mode mule."""
    spotter = TrapSpotter({1: False, 2: True, 3: True})
    assert keys(spotter, receipt(2, mulefunc="thumbnail"), receipt(3, "own", mulefunc="thumbnail")) == []


def test_a_mulefunc_call_taken_by_a_programmed_mule_is_a_trap():
    spotter = TrapSpotter({1: False, 2: True, 3: True})
    (trap,) = spotter.spot_events([receipt(1, mulefunc="thumbnail")])
    assert trap.key == "mulefunc-lost:1"
    assert "Programmed mule 1 took a @mulefunc call, thumbnail()" in trap.text


def test_a_plain_message_taken_by_a_signal_mode_mule_is_a_trap():
    spotter = TrapSpotter({1: False, 2: True})
    assert keys(spotter, receipt(2)) == ["hooked:2"]
    assert keys(spotter, receipt(2, swallowed=True)) == ["swallowed:2"]
    assert keys(spotter, receipt(2, "own")) == []  # addressed to it: its hook is meant to take it
    assert keys(spotter, receipt(1)) == []  # a programmed mule reading the shared queue: as designed


def test_modes_are_learnt_from_snapshots_too():
    spotter = TrapSpotter()
    assert keys(spotter, receipt(1, mulefunc="thumbnail")) == []  # mode unknown: no guess
    mule = MuleView(
        mule_id=1, mode="reporter.py", state=SlotState.RUNNING, pid=4001, respawns=0, last_exit="", retry_at=None,
        msgs_in=0, msgs_out=0, msgs_dropped=0, activity=Activity.WAITING_MESSAGE, activity_arg=1, signals_handled=0,
        queue_bytes=0, signals_pending=0, locks_held=0, cpu_seconds=0.0, rss_bytes=0,
    )
    assert spotter.spot_snapshot(StackSnapshot((mule,), (), (), 0, 0)) == []
    assert keys(spotter, receipt(1, mulefunc="thumbnail")) == ["mulefunc-lost:1"]


def test_a_raising_hook_is_explained_by_what_it_raised_on():
    spotter = TrapSpotter({1: False, 2: True})
    plain = events.MessageHookRaised(mule_id=2, queue="shared", size=5, preview="hello", error="UnpicklingError")
    call = events.MessageHookRaised(
        mule_id=2, queue="shared", size=98, preview="thumbnail(…)", error="ValueError", mulefunc="thumbnail"
    )
    (unpickling,) = spotter.spot_events([plain])
    (raised,) = spotter.spot_events([call])
    assert "pickle consumer (uWSGI issue #624)" in unpickling.text
    assert raised.text.startswith("@mulefunc thumbnail() raised ValueError in mule 2")


def test_drops_crash_loops_and_truncation():
    spotter = TrapSpotter()
    batch = [
        events.MessageDropped(sender=4, target=1, size=10, reason="queue full"),
        events.MessageDropped(sender=4, target=9, size=10, reason="bad mule id"),
        events.StackWarning(text="mule 3 is crashing in a loop", mule_id=3),
        receipt(1, "own", maybe_truncated=True),
    ]
    assert keys(spotter, *batch) == ["full:mule 1", "bad-id:9", "loop:3", "truncated:1"]
