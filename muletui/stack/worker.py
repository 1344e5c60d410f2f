"""A worker's life after fork: accept on every listening socket, serve one request per
connection, and run uWSGI signals between requests, on one thread. Never returns.

As uWSGI's single-threaded worker (reference uwsgi-workers.md §1.1): one selector over the
listening sockets, the worker's own signal socket and the shared worker signal socket, one ready
descriptor taken per wake-up. Every idle worker wakes for a connection; the one whose
non-blocking ``accept`` succeeds serves it, the others see ``EAGAIN`` and wait again. A signal
byte is read the same way and its handler runs here, so a busy worker runs the signals queued
for it right after its response, in order. ``--http-socket`` connections are HTTP/1.x (the
fastest codec installed), ``--socket`` ones uwsgi packets: a WSGI request (modifier1 0), a ping
(100) or a remote signal (110), forwarded to the master as ``uwsgi.signal()`` does.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import sys
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any

from muletui import linux
from muletui.ipc import uwsgi_packet
from muletui.ipc.spec import StackSpec
from muletui.ipc.stats_block import Activity, Field
from muletui.stack import context as stack_context
from muletui.stack import signals
from muletui.stack.context import log
from muletui.stack.http_codec import (
    RequestRecord,
    RequestRefusedError,
    WSGIApp,
    base_environ,
    best_codec,
    format_request_line,
    serve_uwsgi_request,
)
from muletui.stack.mule import END_ME_STATUS, end_me, flush_std_streams, run_post_fork_hook, take_output

_NO_APP = "--- no python application found, check your startup logs for errors ---"


def _no_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """What uWSGI answers when no app was loaded: its line, and a 500."""
    log(_NO_APP)
    start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
    return [b"Internal Server Error"]


class Worker:
    """One worker incarnation's loop and counters."""

    def __init__(self, spec: StackSpec, worker_id: int, app: WSGIApp | None) -> None:
        context = stack_context.current
        assert context is not None, "the shim is bound before a worker runs"
        self.worker_id = worker_id
        self.app = app or _no_app
        self.pid = os.getpid()
        self.environ = base_environ(multiprocess=spec.workers > 1)
        self.http = best_codec()
        self.poller = select.epoll()
        self.listeners: dict[int, tuple[socket.socket, str]] = {}  # by fd; any other fd is a signal socket
        for protocol, fd in spec.listeners:
            self.listeners[fd] = (socket.socket(fileno=fd), protocol)
            self.poller.register(fd, select.EPOLLIN)
        for fd in signals.own_signal_fds():
            self.poller.register(fd, select.EPOLLIN)
        self.words = context.stats.words
        self.index = {field: context.index(field) for field in Field}
        mules = len(spec.mules)
        self.all_requests = [context.stats.offset(mules + w, Field.REQUESTS) for w in range(1, spec.workers + 1)]
        disabled = spec.opt.get("disable-logging", False)
        self.logging = disabled is False or disabled in (b"0", b"false", b"off", b"no")  # uWSGI's flag words
        self.app_requests = 0  # this incarnation's app requests: the N of the log line's "req: N/M"
        self.busy = False
        self.stopping = False  # told to stop gracefully: exit after the request

    def serve_forever(self) -> None:
        words, activity, listeners, poll = self.words, self.index[Field.ACTIVITY], self.listeners, self.poller.poll
        while not self.stopping:
            words[activity] = Activity.IDLE
            [(fd, _events)] = poll(-1, 1)  # one event per wake-up, as uWSGI's epoll
            if fd not in listeners:
                signals.take(fd)
                continue
            listener, protocol = listeners[fd]
            try:
                conn, addr = listener.accept()
            except BlockingIOError:
                continue  # another worker won it
            self.busy = True
            words[activity] = Activity.SERVING_REQUEST
            try:
                with conn:
                    if protocol == "http":
                        self._serve_http(conn, addr)
                    else:
                        self._serve_uwsgi(conn)
            finally:
                self.busy = False
        flush_std_streams()
        os._exit(0)

    def _serve_http(self, conn: socket.socket, addr: Any) -> None:
        try:
            record = self.http(conn, addr, self.app, self.environ)
        except RequestRefusedError as refused:
            log(refused.log_line)
            return
        if record is not None:
            self._served(record)

    def _serve_uwsgi(self, conn: socket.socket) -> None:
        try:
            packet = uwsgi_packet.read_packet(conn)
        except uwsgi_packet.PacketError as error:
            log(error.log_line)
            return
        except OSError:
            return
        if packet.modifier1 == uwsgi_packet.MODIFIER_WSGI:
            self._served(serve_uwsgi_request(conn, packet, self.app, self.environ))
        elif packet.modifier1 == uwsgi_packet.MODIFIER_PING:
            log("PING")
            conn.sendall(uwsgi_packet.ping_answer())
        elif packet.modifier1 == uwsgi_packet.MODIFIER_SIGNAL:
            forwarded = signals.to_master(packet.modifier2)
            self._count(0, 0, False)
            conn.sendall(uwsgi_packet.signal_answer(forwarded))
        else:
            log(f"-- unavailable modifier requested: {packet.modifier1} --")

    def _count(self, tx: int, micros: int, raised: bool) -> int:
        """Count one request in this slot's figures; the stack's requests so far."""
        words, index = self.words, self.index
        words[index[Field.REQUESTS]] += 1
        words[index[Field.TX]] += tx
        words[index[Field.RUNNING_TIME]] += micros
        words[index[Field.AVG_RT]] = (words[index[Field.AVG_RT]] + micros) // 2
        words[index[Field.EXCEPTIONS]] += raised
        return sum(words[i] for i in self.all_requests)

    def _served(self, record: RequestRecord) -> None:
        """Count a request the app was asked to serve and write uWSGI's lines for it."""
        for line in record.lines:
            log(line)
        total = self._count(record.headers_bytes + record.body_bytes, record.micros, record.raised)
        if record.app_id >= 0:
            self.app_requests += 1
        if self.logging:
            log(format_request_line(record, self.pid, self.app_requests, total))

    def graceful_stop(self, signum: int, frame: FrameType | None) -> None:
        """SIGHUP / SIGTERM: uWSGI's graceful kill, the request in progress finishes first."""
        if not self.busy:
            flush_std_streams()
            os._exit(0)
        self.stopping = True


def run_worker(spec: StackSpec, worker_id: int, out_fd: int, err_fd: int, root_pid: int, app: WSGIApp | None) -> None:
    """Become worker ``worker_id`` in a freshly forked child of the stack root, serving ``app``."""
    linux.die_with_parent(root_pid)
    take_output(out_fd, err_fd)
    import uwsgi  # noqa: PLC0415 - the shim, already imported and bound by the stack root

    uwsgi._bind(spec, 0, worker_id)
    worker = Worker(spec, worker_id, app)
    for signum in (signal.SIGINT, signal.SIGQUIT):
        signal.signal(signum, end_me)
    for signum in (signal.SIGHUP, signal.SIGTERM):
        signal.signal(signum, worker.graceful_stop)
    for signum in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGPIPE, signal.SIGALRM):
        signal.signal(signum, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP, signal.SIGINT, signal.SIGTERM, signal.SIGQUIT})
    try:
        run_post_fork_hook(uwsgi)
        worker.serve_forever()
    except SystemExit as stop:
        flush_std_streams()
        os._exit(stop.code if isinstance(stop.code, int) else 1)
    except BaseException as error:  # noqa: BLE001 - the loop itself failed: say so and die, to be respawned
        sys.excepthook(type(error), error, error.__traceback__)
        flush_std_streams()
        os._exit(END_ME_STATUS)
