"""A scripted stand-in for the master, for snapshot tests: fixed pids, counters and times.

Real stacks have new pids and timestamps on every run, which a screen snapshot cannot hold;
every other console test drives a real stack.
"""

from __future__ import annotations

from types import SimpleNamespace

from muletui.engine import events
from muletui.engine.agents import MuleAgents
from muletui.engine.bus import EventBus
from muletui.engine.filemon import FileMonitor
from muletui.engine.lifecycle import Slot, SlotState
from muletui.engine.master import StackState
from muletui.engine.signals import SignalEntry
from muletui.engine.snapshot import FarmView, LockView, MuleView, StackSnapshot
from muletui.engine.timers import Schedule
from muletui.ipc.stats_block import Activity

WALL = 1_795_000_000.0  # a fixed wall-clock time for every line


def _mule(mule_id: int, mode: str, state: SlotState, activity: Activity, **extra: object) -> MuleView:
    values: dict[str, object] = dict(  # noqa: C408 - reads as the MuleView fields
        mule_id=mule_id, mode=mode, state=state, pid=4000 + mule_id if state is SlotState.RUNNING else 0,
        respawns=0, last_exit="", retry_at=None, msgs_in=0, msgs_out=0, msgs_dropped=0, activity=activity,
        activity_arg=0, signals_handled=0, queue_bytes=0, signals_pending=0, locks_held=0, cpu_seconds=0.0,
        rss_bytes=12 << 20,
    )
    values.update(extra)
    return MuleView(**values)  # type: ignore[arg-type]


class ScriptedMaster:
    """Enough of :class:`muletui.engine.master.Master` for the console to paint a busy stack."""

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self.state = StackState.NEW
        self.root_pid = 4000
        self.mules = {i: Slot("mule", i) for i in range(1, 5)}
        self.workers: dict[int, Slot] = {}  # no socket: no workers
        self.module_files: list[object] = []  # what the stack root loaded: nothing to watch for reloads
        self.agents = MuleAgents(bus.publish)  # no mule has an agent: none is stopped at a prompt
        table = {
            0: SignalEntry(0, "mule", "hello", "app.py:24", raised=12, delivered=12, handled=12, last_duration=0.00012),
            1: SignalEntry(1, "mules", "tmp_modified", "app.py:36", raised=2, delivered=8, handled=6),
            17: SignalEntry(17, "mule2", "i_am_mule2", "app.py:30", raised=5, delivered=5, handled=4, failed=1),
        }
        timers = SimpleNamespace(schedules=[Schedule("timer", 1, 0, seconds=5, fires=12)])
        monitors = SimpleNamespace(monitors=[FileMonitor(1, 1, "/tmp/muletui-demo", fires=2, last_changes=("added touched",))])
        self.signals = SimpleNamespace(table=table, timers=timers, file_monitors=monitors)

    async def start(self) -> None:
        self.state = StackState.RUNNING
        lines = [
            (0, "sys", "spawned uWSGI mule 1 (pid: 4001)"),
            (1, "out", "loop1: Waiting for messages... yawn."),
            (1, "out", "b'ciuchino'"),
            (2, "out", "Greetings! I am running in mule number two."),
            (4, "out", "Hi! I am responding to signal 0, running on mule 4"),
            (1, "err", "\x1b[31mred text from a mule\x1b[0m [not markup]"),
            (3, "out", "This is a thread!"),
        ]
        for mule_id, stream, text in lines:
            if stream == "sys":
                self.bus.publish(events.MasterLog(text=text))
            else:
                line = events.OutputLine(t=0.0, wall=WALL, text=text)
                self.bus.publish(events.OutputLines(mule_id=mule_id, stream=stream, lines=(line,)))
        self.bus.publish(events.MessageSent(sender=3, target=1, size=16, preview="job 1 for mule 1"))
        self.bus.publish(events.MessageReceived(mule_id=1, queue="own", size=16, preview="job 1 for mule 1", maybe_truncated=False))

    def snapshot(self) -> StackSnapshot:
        return StackSnapshot(
            mules=(
                _mule(1, "somaro.py", SlotState.RUNNING, Activity.WAITING_MESSAGE, msgs_in=7, signals_pending=2),
                _mule(2, "signal", SlotState.RUNNING, Activity.HANDLING_SIGNAL, activity_arg=17, signals_handled=9),
                _mule(3, "feeder.py", SlotState.BACKOFF, Activity.IDLE, respawns=5, last_exit="exit 1"),
                _mule(4, "signal", SlotState.RUNNING, Activity.WAITING_LOCK, activity_arg=1, msgs_in=3),
            ),
            locks=(LockView(0, 0, None, ()), LockView(1, 4002, 2, (4,))),
            farms=(FarmView("busy", 1, (2, 4), 0, 0),),
            shared_queue_bytes=0,
            shared_signals_pending=0,
        )

    async def stop(self, cause: str = "") -> dict[str, tuple[int, int]]:
        self.state = StackState.STOPPED
        return {}

    async def wait_stopped(self) -> None:
        return
