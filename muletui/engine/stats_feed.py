"""``--stats``: the master's stats server, fed from its snapshot at each connection.

Imported by the master only when ``--stats`` is given (the stats server and its JSON stay out
of a stack without it). Figures are uWSGI's units: microseconds for ``running_time`` and
``avg_rt``, bytes for ``tx``, unix seconds for ``last_spawn``, ``respawn_count`` 1 for a first
spawn. ``avg_rt`` is uWSGI's running average: (the previous one + each request's time) / 2.
"""

from __future__ import annotations

import os
import socket
import time
from typing import TYPE_CHECKING

from muletui.engine.lifecycle import Slot
from muletui.engine.listeners import BindError
from muletui.engine.snapshot import MuleView, StackSnapshot, WorkerView
from muletui.engine.stats_server import MuleFigures, SocketFigures, StackFigures, StatsServer, WorkerFigures
from muletui.ipc.stats_block import Activity

if TYPE_CHECKING:
    from muletui.engine.master import Master

#: A mule waiting for work is idle, as a worker waiting in accept is.
_WAITING = frozenset({Activity.IDLE, Activity.WAITING_MESSAGE, Activity.WAITING_FARM, Activity.WAITING_SIGNAL})


async def serve_stats(master: Master) -> StatsServer:
    """Listen on ``--stats`` (before anything forks, as the workers' sockets).

    Raises:
        BindError: the address cannot be bound.
    """
    feed = StatsFeed(master)
    server = StatsServer(feed.figures, master.config.stats_minified)
    try:
        await server.start(master.config.stats)
    except (OSError, ValueError) as error:
        raise BindError(f"unable to bind the stats server to {master.config.stats}: {_reason(error)}") from None
    return server


def _reason(error: OSError | ValueError) -> str:
    """Why an address could not be bound, in the kernel's or the resolver's words."""
    if isinstance(error, socket.gaierror):
        return str(error.strerror)
    if isinstance(error, OSError) and error.errno:
        return os.strerror(error.errno)  # asyncio's own text repeats the address
    return "not a port number"


class StatsFeed:
    """The figures of one stats document, from the master as of now; keeps each worker's
    requests at the previous document for ``delta_requests`` (uWSGI resets it at each one)."""

    def __init__(self, master: Master) -> None:
        self._master = master
        self._seen: dict[int, int] = {}

    def figures(self) -> StackFigures:
        """The stack's figures for the document being written."""
        master = self._master
        config = master.config
        snapshot = master.snapshot()
        workers = tuple(self._worker(view, master.workers[view.worker_id]) for view in snapshot.workers)
        self._seen = {worker.id: worker.requests for worker in workers}
        sockets = tuple(
            SocketFigures(listener.bound, listener.spec.protocol, queue=listener.queue(), max_queue=config.listen)
            for listener in master.listeners.sockets
        )
        return StackFigures(
            pid=os.getpid(),
            uid=os.getuid(),
            gid=os.getgid(),
            cwd=os.path.abspath(config.chdir) if config.chdir else os.getcwd(),
            workers=workers,
            mules=self._mules(snapshot),
            sockets=sockets,
            listen_queue=sum(sock.queue for sock in sockets),  # uWSGI's: every socket's queue
            user_locks=tuple(lock.holder_pid for lock in snapshot.locks),
            signal_queue=snapshot.shared_worker_signals_pending,
            app_loaded=any(kind != "import" for kind, _value in config.app),
        )

    def _worker(self, view: WorkerView, slot: Slot) -> WorkerFigures:
        return WorkerFigures(
            id=view.worker_id,
            pid=view.pid,
            status=view.status or "idle",
            requests=view.requests,
            delta_requests=view.requests - self._seen.get(view.worker_id, 0),
            exceptions=view.exceptions,
            signals=view.signals_handled,
            signal_queue=view.signals_pending,
            running_time=round(view.running_msecs * 1000),
            last_spawn=self._unix_time(slot),
            respawn_count=slot.respawns + 1,
            tx=view.tx_bytes,
            avg_rt=round(view.avg_msecs * 1000),
            accepting=bool(view.pid),
        )

    def _unix_time(self, slot: Slot) -> int:
        """When the slot's current (or last) incarnation was spawned, in unix seconds; 0 if never."""
        if not slot.started_at:
            return 0
        return int(time.time() - (self._master.lifecycle.clock() - slot.started_at))

    def _mules(self, snapshot: StackSnapshot) -> tuple[MuleFigures, ...]:
        master = self._master
        programs = {spec.mule_id: spec.program or "" for spec in master.config.mules}
        farms: dict[int, list[str]] = {}
        for farm in master.config.farms:
            for member in farm.members:
                farms.setdefault(member, []).append(farm.name)
        return tuple(
            MuleFigures(
                id=view.mule_id,
                pid=view.pid,
                program=programs[view.mule_id],
                farms=tuple(farms.get(view.mule_id, ())),
                status=_mule_status(view),
                signals=view.signals_handled,
                messages=view.msgs_in,
                signal_queue=view.signals_pending,
                msg_queue=view.queue_messages,
                respawn_count=view.respawns + 1,
                last_spawn=self._unix_time(master.mules[view.mule_id]),
            )
            for view in snapshot.mules
        )


def _mule_status(view: MuleView) -> str:
    """``sigN`` in a signal handler, ``idle`` while waiting for work (or down), else ``busy``."""
    if view.activity is Activity.HANDLING_SIGNAL:
        return f"sig{view.activity_arg}"
    return "idle" if view.activity in _WAITING or not view.pid else "busy"
