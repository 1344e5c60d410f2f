"""The master's signal table and router: uWSGI's target grammar, delivery and its log lines.

The table holds what the stack root registered at import (handlers themselves live in the
stack processes). Routing resolves a target string to signal sockets and writes one byte into
each, exactly where uWSGI would (``shared/reference/uwsgi-behaviour.md`` §3.2–3.6, workers:
``uwsgi-workers.md`` §1.1). A stack without workers (no socket) reports the worker targets and
unregistered signals as undeliverable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from muletui.engine.channels import Channels, Queue
from muletui.ipc.spec import FarmSpec
from muletui.ipc.targets import atoi as _atoi

NO_WORKERS = "muletui runs no workers"


@dataclass
class SignalEntry:
    """One registered signal and what happened to it so far."""

    signum: int
    target: str
    handler: str
    registered_by: str = ""  # file:line of the registering call
    raised: int = 0
    delivered: int = 0  # bytes written into signal sockets
    handled: int = 0
    failed: int = 0  # handler raised, or no handler where it arrived
    dropped: int = 0  # socket full, or nowhere to deliver
    last_duration: float | None = None


@dataclass(frozen=True)
class Route:
    """Where a target leads: signal sockets to write into, or the lines saying why nowhere."""

    sockets: tuple[tuple[str, Queue], ...] = ()  # (delivery name for errors, socket)
    errors: tuple[str, ...] = ()
    reason: str = ""  # short, for events; empty when delivered



@dataclass
class SignalRouter:
    """Resolves uWSGI signal targets for one stack, in uWSGI's match order."""

    channels: Channels
    farms: list[FarmSpec]
    table: dict[int, SignalEntry] = field(default_factory=dict)
    #: The workers running now (pid known), for ``active-workers``.
    live_workers: Callable[[], list[int]] = list

    _routes: dict[tuple[int, str], Route] = field(default_factory=dict)

    def register(self, signum: int, target: str, handler: str, registered_by: str = "") -> SignalEntry:
        entry = self.table[signum] = SignalEntry(signum, target, handler, registered_by)
        self._routes.clear()
        return entry

    def resolve(self, signum: int, target: str) -> Route:
        """Where ``target`` leads (cached: targets and sockets never change while running; who
        is alive does, so ``active-workers`` is resolved each time)."""
        if target == "active-workers":
            return self._resolve(signum, target)
        key = (signum, target)
        route = self._routes.get(key)
        if route is None:
            route = self._routes[key] = self._resolve(signum, target)
        return route

    def _resolve(self, signum: int, target: str) -> Route:
        if target.startswith("worker") or target in ("", "active-workers"):
            return self._to_workers(signum, target)
        if target == "subscribed":
            return Route(reason="subscribed: nothing to do")
        if target == "spooler":
            return Route(
                errors=(
                    "uwsgi_signal_send(): Bad file descriptor [core/signal.c line 306]",
                    f"could not deliver signal {signum} to the spooler",
                ),
                reason="no spooler",
            )
        if target == "mules":
            return Route(tuple((f"mule {i}", sock) for i, sock in self.channels.mule_signals.items()))
        if target.startswith("mule"):
            mule_id = _atoi(target[4:])
            if mule_id == 0:
                return Route((("a mule", self.channels.shared_signal),))
            sock = self.channels.mule_signals.get(mule_id)
            if sock is None:
                return Route(errors=(f"invalid signal target: {target}",), reason="no such mule")
            return Route(((f"mule {mule_id}", sock),))
        if target.startswith("farm_"):
            name = target[5:]
            farm = next((f for f in self.farms if f.name == name), None)
            if farm is None:
                return Route(errors=(f"unknown farm: {name}",), reason="unknown farm")
            return Route(((f"farm 0 ({farm.name})", self.channels.farm_signals[farm.index]),))
        if target.startswith("farm"):
            index = _atoi(target[4:])
            farm = next((f for f in self.farms if f.index == index), None)
            if farm is None:
                return Route(errors=(f"invalid signal target: {target}",), reason="no such farm")
            return Route(((f"farm 0 ({farm.name})", self.channels.farm_signals[farm.index]),))
        return Route(errors=(f"^^^ UNSUPPORTED SIGNAL TARGET: {target} ^^^",), reason="unsupported target")

    def _to_workers(self, signum: int, target: str) -> Route:
        """``''``/``worker``/``worker0`` the first worker to read, ``workers`` every worker,
        ``active-workers`` the live ones, ``workerN`` worker N (uWSGI's match order)."""
        pool = target in ("", "worker", "worker0", "workers", "active-workers")
        if not self.channels.worker_signals:
            where = "workers pool" if pool else f"worker {_atoi(target[6:])}"
            return Route(errors=(f"could not deliver signal {signum} to {where} ({NO_WORKERS})",), reason=NO_WORKERS)
        if target in ("", "worker", "worker0"):
            return Route((("a worker", self.channels.shared_worker_signal),))
        if target == "workers":
            return self._workers(list(self.channels.worker_signals))
        if target == "active-workers":
            return self._workers(self.live_workers())
        worker_id = _atoi(target[6:])
        sock = self.channels.worker_signals.get(worker_id)
        if sock is None:
            return Route(errors=(f"invalid signal target: {target}",), reason="no such worker")
        return Route(((f"worker {worker_id}", sock),))

    def _workers(self, worker_ids: list[int]) -> Route:
        return Route(tuple((f"worker {i}", self.channels.worker_signals[i]) for i in worker_ids))
