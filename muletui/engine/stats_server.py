"""uWSGI's stats server (``--stats ADDR``): one JSON document per connection, then close.

The document has uWSGI 2.0.30's keys, in its order, for the master and every worker (reference
uwsgi-workers.md §4 and uwsgi-behaviour.md §8), so uWSGI's consumers read it as they read
uWSGI's: ``uwsgitop`` 0.12 draws a row per worker. muletui adds one top-level key, ``mules``,
with each mule's figures; uWSGI has none, and its consumers ignore keys they do not know. The
figures come from the caller as plain data (:class:`StackFigures`), taken at each connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: The version uWSGI's consumers are told.
VERSION = "2.0.30"
#: uWSGI's own locks, after the user's (``--locks N`` gives ``user 0`` .. ``user N``).
_UWSGI_LOCKS = ("signal", "filemon", "timer", "rbtimer", "cron", "rpc", "snmp")


@dataclass(frozen=True, slots=True)
class WorkerFigures:
    """One worker's figures, in uWSGI's units."""

    id: int
    pid: int
    #: ``idle``, ``busy``, ``sig<N>`` while its handler of signal N runs, ``pause``, ``cheap``.
    status: str = "idle"
    requests: int = 0
    #: Requests since the previous stats document (uWSGI resets it at each one).
    delta_requests: int = 0
    exceptions: int = 0
    harakiri_count: int = 0
    #: Signal handlers run.
    signals: int = 0
    #: Bytes waiting in the worker's own signal socket.
    signal_queue: int = 0
    #: Bytes; 0 unless memory is reported (uWSGI's ``--memory-report``).
    rss: int = 0
    vsz: int = 0
    #: Microseconds spent in requests.
    running_time: int = 0
    #: Unix time of the current incarnation's spawn.
    last_spawn: int = 0
    respawn_count: int = 1
    #: Bytes written to clients, headers included.
    tx: int = 0
    #: Microseconds.
    avg_rt: int = 0
    accepting: bool = True


@dataclass(frozen=True, slots=True)
class MuleFigures:
    """One mule's figures, under muletui's ``mules`` key."""

    id: int
    pid: int
    #: The mule's script or ``module:callable``, '' for a signal-mode mule.
    program: str = ""
    farms: tuple[str, ...] = ()
    #: ``idle``, ``busy`` (its program runs), ``sig<N>`` while its handler of signal N runs.
    status: str = "idle"
    #: Signal handlers run, messages received.
    signals: int = 0
    messages: int = 0
    #: Bytes waiting in its signal socket, messages waiting in its queue.
    signal_queue: int = 0
    msg_queue: int = 0
    respawn_count: int = 1
    last_spawn: int = 0
    harakiri_count: int = 0


@dataclass(frozen=True, slots=True)
class SocketFigures:
    """A socket the workers serve: ``name`` as bound (``127.0.0.1:8000``), ``proto`` ``http``
    (``--http-socket``) or ``uwsgi`` (``--socket``)."""

    name: str
    proto: str
    queue: int = 0
    max_queue: int = 0


@dataclass(frozen=True, slots=True)
class StackFigures:
    """Everything one stats document tells."""

    pid: int
    uid: int
    gid: int
    cwd: str
    workers: tuple[WorkerFigures, ...] = ()
    mules: tuple[MuleFigures, ...] = ()
    sockets: tuple[SocketFigures, ...] = ()
    #: The pid holding each user lock (0: free), ``user 0`` first.
    user_locks: tuple[int, ...] = (0,)
    #: Bytes waiting in the shared worker signal socket.
    signal_queue: int = 0
    listen_queue: int = 0
    listen_queue_errors: int = 0
    load: int = 0
    #: An app is loaded: each worker lists it under ``apps``.
    app_loaded: bool = True


def _worker(worker: WorkerFigures, app_loaded: bool) -> dict[str, Any]:
    """A ``workers[]`` element, keys in uWSGI's order (one app, one core)."""
    apps = [
        {"id": 0, "modifier1": 0, "mountpoint": "", "startup_time": 0, "requests": worker.requests,
         "exceptions": worker.exceptions, "chdir": ""},
    ] if app_loaded else []  # fmt: skip
    core = {
        "id": 0, "requests": worker.requests, "static_requests": 0, "routed_requests": 0, "offloaded_requests": 0,
        "write_errors": 0, "read_errors": 0, "in_request": int(worker.status == "busy"), "vars": [], "req_info": {},
    }  # fmt: skip
    return {
        "id": worker.id,
        "pid": worker.pid,
        "accepting": int(worker.accepting),
        "requests": worker.requests,
        "delta_requests": worker.delta_requests,
        "exceptions": worker.exceptions,
        "harakiri_count": worker.harakiri_count,
        "signals": worker.signals,
        "signal_queue": worker.signal_queue,
        "status": worker.status,
        "rss": worker.rss,
        "vsz": worker.vsz,
        "running_time": worker.running_time,
        "last_spawn": worker.last_spawn,
        "respawn_count": worker.respawn_count,
        "tx": worker.tx,
        "avg_rt": worker.avg_rt,
        "apps": apps,
        "cores": [core],
    }


def _mule(mule: MuleFigures) -> dict[str, Any]:
    return {
        "id": mule.id,
        "pid": mule.pid,
        "program": mule.program,
        "mode": "programmed" if mule.program else "signal",
        "farms": list(mule.farms),
        "status": mule.status,
        "signals": mule.signals,
        "messages": mule.messages,
        "signal_queue": mule.signal_queue,
        "msg_queue": mule.msg_queue,
        "respawn_count": mule.respawn_count,
        "last_spawn": mule.last_spawn,
        "harakiri_count": mule.harakiri_count,
    }


def _socket(sock: SocketFigures) -> dict[str, Any]:
    return {
        "name": sock.name,
        "proto": sock.proto,
        "queue": sock.queue,
        "max_queue": sock.max_queue,
        "shared": 0,
        "can_offload": 0,
    }


def stats_document(figures: StackFigures) -> dict[str, Any]:
    """The stats document: uWSGI's top-level keys in its order, then ``mules``."""
    locks = [{f"user {number}": pid} for number, pid in enumerate(figures.user_locks)]
    return {
        "version": VERSION,
        "listen_queue": figures.listen_queue,
        "listen_queue_errors": figures.listen_queue_errors,
        "signal_queue": figures.signal_queue,
        "load": figures.load,
        "pid": figures.pid,
        "uid": figures.uid,
        "gid": figures.gid,
        "cwd": figures.cwd,
        "locks": locks + [{name: 0} for name in _UWSGI_LOCKS],
        "sockets": [_socket(sock) for sock in figures.sockets],
        "workers": [_worker(worker, figures.app_loaded) for worker in figures.workers],
        "mules": [_mule(mule) for mule in figures.mules],
    }


def encode_document(document: dict[str, Any], minified: bool = False) -> bytes:
    """The document's bytes: tab-indented ``"key":value`` as uWSGI writes it, or on one line
    (``--stats-minified``)."""
    return json.dumps(document, indent=None if minified else "\t", separators=(",", ":")).encode()


def parse_address(address: str) -> tuple[str, int] | str:
    """(host, port) for ``host:port`` (``:port`` is loopback: 127.0.0.1, where uWSGI binds
    every interface), else a unix socket path (``@name``: the abstract namespace)."""
    if address.startswith("@"):
        return "\0" + address[1:]
    if ":" in address and not address.startswith("/"):
        host, _, port = address.rpartition(":")
        return host.strip("[]") or "127.0.0.1", int(port)
    return address


class StatsServer:
    """The stats server on the running asyncio loop: every connection gets a document built
    from ``figures()`` at that moment, and is closed once it is written; what the client
    sends is not read (as uWSGI)."""

    def __init__(self, figures: Callable[[], StackFigures], minified: bool = False) -> None:
        self._figures = figures
        self._minified = minified
        self._server: asyncio.Server | None = None
        self._path = ""

    async def start(self, address: str) -> None:
        """Listen on ``address`` (``host:port``, ``:port``, a unix path or ``@name``); ``OSError``
        if it cannot be bound."""
        target = parse_address(address)
        if isinstance(target, tuple):
            self._server = await asyncio.start_server(self._serve, *target)
        else:
            self._path = target
            self._server = await asyncio.start_unix_server(self._serve, target)

    @property
    def address(self) -> str:
        """Where it listens: ``host:port`` (the port bound for ``:0``), a path or ``@name``."""
        assert self._server is not None
        name = self._server.sockets[0].getsockname()
        if isinstance(name, tuple):
            return f"{name[0]}:{name[1]}"
        return "@" + self._path[1:] if self._path.startswith("\0") else self._path

    @property
    def fileno(self) -> int:
        """The listening socket's descriptor (uWSGI names it in its ``enabled`` line)."""
        assert self._server is not None
        return self._server.sockets[0].fileno()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(encode_document(stats_document(self._figures()), self._minified))
            await writer.drain()
        except ConnectionError:
            pass  # the client left first
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def close(self) -> None:
        """Stop listening (connections being served finish), and remove a unix socket's file."""
        if self._server is None:
            return
        self._server.close()
        await self._server.wait_closed()
        self._server = None
        if self._path and not self._path.startswith("\0"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._path)

