"""A point-in-time view of a running stack, for the console's tables: cheap enough to take a few
times a second (the stats block is read without a syscall, queued bytes with one ioctl each,
CPU and RSS from ``/proc``).

A queue's depth is given twice: in bytes, from the kernel (``SIOCINQ``), and in messages, from
the stats block's queue counters (sent minus read, summed over every process): a
SOCK_SEQPACKET socket tells its bytes but not how many messages they are.
"""

from __future__ import annotations

import os

from muletui.engine.channels import Channels
from muletui.engine.lifecycle import Slot, SlotState
from muletui.ipc.spec import FarmSpec, MuleSpec
from muletui.ipc.stats_block import Activity, Field, StatsBlock, worker_status
from muletui.record import record

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


@record
class MuleView:
    """One mule slot: lifecycle from the master, counters from the stats block."""

    mule_id: int
    mode: str  # "signal", the script's name, or "module:callable"
    state: SlotState
    pid: int
    respawns: int
    last_exit: str
    retry_at: float | None
    msgs_in: int
    msgs_out: int
    msgs_dropped: int
    activity: Activity
    activity_arg: int
    signals_handled: int
    queue_bytes: int  # pending in the mule's own message queue
    signals_pending: int  # bytes (= signals) pending in the mule's own signal socket
    locks_held: int  # bit mask
    cpu_seconds: float
    rss_bytes: int
    queue_messages: int = 0  # messages in the mule's own queue (``queue_bytes`` is their size)


@record
class WorkerView:
    """One worker slot: lifecycle from the master, request figures from the stats block
    (uWSGI's stats ``workers[]`` keys: ``requests``, ``tx``, ``avg_rt``, ``status``...)."""

    worker_id: int
    state: SlotState
    pid: int
    respawns: int
    last_exit: str
    retry_at: float | None
    #: uWSGI's stats ``status``: ``idle``, ``busy`` (serving a request) or ``sigN`` (running
    #: signal N's handler); ``""`` while the worker is down.
    status: str
    requests: int  # served by the slot's incarnations, remote signals included (uWSGI's count)
    exceptions: int  # requests whose app raised
    signals_handled: int
    tx_bytes: int  # headers and bodies sent
    avg_msecs: float  # uWSGI's running average of request times: (average + each new one) / 2
    running_msecs: float  # time spent serving requests
    signals_pending: int  # bytes (= signals) pending in the worker's own signal socket
    cpu_seconds: float
    rss_bytes: int


@record
class LockView:
    lock: int
    holder_pid: int  # as recorded (0: free, or cleared by a foreign unlock)
    holder_mule: int | None  # None: the stack root or a process that is gone
    waiters: tuple[int, ...]  # mule ids waiting in lock()


@record
class FarmView:
    name: str
    index: int
    members: tuple[int, ...]
    queue_bytes: int
    signals_pending: int
    queue_messages: int = 0


@record
class StackSnapshot:
    mules: tuple[MuleView, ...]
    locks: tuple[LockView, ...]
    farms: tuple[FarmView, ...]
    shared_queue_bytes: int
    shared_signals_pending: int
    shared_queue_messages: int = 0
    workers: tuple[WorkerView, ...] = ()
    shared_worker_signals_pending: int = 0  # signals for the first worker to read


def _proc_usage(pid: int) -> tuple[float, int]:
    """CPU seconds (user + system) and resident bytes of ``pid``; zeros if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except OSError:
        return 0.0, 0
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS, int(fields[21]) * _PAGE


def _mode(spec: MuleSpec) -> str:
    if spec.mode == "script":
        return os.path.basename(spec.program or "")
    if spec.mode == "callable":
        return spec.program or ""
    return "signal"


def take_snapshot(
    mules: dict[int, Slot],
    specs: list[MuleSpec],
    stats: StatsBlock,
    channels: Channels,
    farms: list[FarmSpec],
    locks: int,
    workers: dict[int, Slot] | None = None,
) -> StackSnapshot:
    """The stack as of now: ``mules`` and ``workers`` are the master's slots, ``specs`` what each
    mule runs."""
    views = []
    modes = {spec.mule_id: _mode(spec) for spec in specs}
    by_pid = {m.pid: m.number for m in mules.values() if m.pid}
    waiting: dict[int, list[int]] = {}
    for mule_id, mule in mules.items():
        record = stats.record(mule_id)
        activity = Activity(record[Field.ACTIVITY]) if mule.pid else Activity.IDLE
        if activity is Activity.WAITING_LOCK:
            waiting.setdefault(record[Field.ACTIVITY_ARG], []).append(mule_id)
        cpu, rss = _proc_usage(mule.pid) if mule.pid else (0.0, 0)
        views.append(
            MuleView(
                mule_id=mule_id,
                mode=modes[mule_id],
                state=mule.state,
                pid=mule.pid,
                respawns=mule.respawns,
                last_exit=mule.last_exit,
                retry_at=mule.retry_at,
                msgs_in=record[Field.MSGS_IN],
                msgs_out=record[Field.MSGS_OUT],
                msgs_dropped=record[Field.MSGS_DROPPED],
                activity=activity,
                activity_arg=record[Field.ACTIVITY_ARG],
                signals_handled=record[Field.SIGNALS_HANDLED],
                queue_bytes=channels.mules[mule_id].pending_bytes(),
                signals_pending=channels.mule_signals[mule_id].pending_bytes(),
                locks_held=record[Field.LOCKS_HELD],
                cpu_seconds=cpu,
                rss_bytes=rss,
                queue_messages=stats.queue_depth(mule_id),
            )
        )
    lock_views = []
    for lock in range(locks + 1):
        pid, _tid = stats.lock_holder(lock)
        lock_views.append(LockView(lock, pid, by_pid.get(pid), tuple(waiting.get(lock, ()))))
    farm_views = tuple(
        FarmView(
            farm.name,
            farm.index,
            farm.members,
            channels.farms[farm.index].pending_bytes(),
            channels.farm_signals[farm.index].pending_bytes(),
            stats.queue_depth(len(mules) + farm.index),
        )
        for farm in farms
    )
    return StackSnapshot(
        tuple(views),
        tuple(lock_views),
        farm_views,
        channels.shared.pending_bytes(),
        channels.shared_signal.pending_bytes(),
        stats.queue_depth(0),
        tuple(_worker_view(slot, stats, len(mules) + number, channels) for number, slot in (workers or {}).items()),
        channels.shared_worker_signal.pending_bytes(),
    )


def _worker_view(slot: Slot, stats: StatsBlock, record_slot: int, channels: Channels) -> WorkerView:
    record = stats.record(record_slot)
    requests = record[Field.REQUESTS]
    running = record[Field.RUNNING_TIME] / 1000
    cpu, rss = _proc_usage(slot.pid) if slot.pid else (0.0, 0)
    return WorkerView(
        worker_id=slot.number,
        state=slot.state,
        pid=slot.pid,
        respawns=slot.respawns,
        last_exit=slot.last_exit,
        retry_at=slot.retry_at,
        status=worker_status(record[Field.ACTIVITY], record[Field.ACTIVITY_ARG]) if slot.pid else "",
        requests=requests,
        exceptions=record[Field.EXCEPTIONS],
        signals_handled=record[Field.SIGNALS_HANDLED],
        tx_bytes=record[Field.TX],
        avg_msecs=record[Field.AVG_RT] / 1000,
        running_msecs=running,
        signals_pending=channels.worker_signals[slot.number].pending_bytes(),
        cpu_seconds=cpu,
        rss_bytes=rss,
    )
