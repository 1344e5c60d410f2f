"""The workers' listening sockets: bound by the master before anything forks, as uWSGI binds them.

Every ``--http-socket`` and ``--socket`` becomes one non-blocking listening socket with the
``--listen`` backlog; the stack root inherits them and every worker accepts on all of them (the
first whose ``accept`` succeeds serves the connection). Addresses are uWSGI's: ``host:port``,
``:port`` (every interface), a unix socket path, or ``@name`` in the abstract namespace.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
from dataclasses import dataclass

from muletui.ipc.spec import SocketSpec

#: ``struct tcp_info``: on a listening socket, ``tcpi_unacked`` is its accept queue's length.
_UNACKED = struct.Struct("I")
_UNACKED_OFFSET = 24  # after 8 one-byte fields and rto, ato, snd_mss, rcv_mss
_TCP_INFO_SIZE = 104


class BindError(OSError):
    """A socket could not be bound; ``str()`` is uWSGI's kind of line for it."""


@dataclass
class Listener:
    """One bound listening socket: its uWSGI index, protocol, the address as given and the
    address it is bound to (``127.0.0.1:PORT`` with the port the kernel chose for ``:0``)."""

    index: int
    spec: SocketSpec
    sock: socket.socket
    bound: str

    @property
    def unix(self) -> bool:
        return self.sock.family == socket.AF_UNIX

    def queue(self) -> int:
        """Connections waiting in the kernel for a worker's ``accept`` (uWSGI reads a TCP
        socket's from ``TCP_INFO``, as here; 0 for a unix socket, which Linux does not tell)."""
        if self.unix:
            return 0
        info = self.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_SIZE)
        return int(_UNACKED.unpack_from(info, _UNACKED_OFFSET)[0])

    def bound_line(self) -> str:
        """uWSGI's ``uwsgi socket N bound to TCP address ADDR fd F`` (with its note for an
        auto-assigned port) or ``... to UNIX address PATH fd F``."""
        if self.unix:
            return f"uwsgi socket {self.index} bound to UNIX address {self.spec.address} fd {self.sock.fileno()}"
        auto = " (port auto-assigned)" if self.spec.address.endswith(":0") else ""
        host = self.spec.address.rpartition(":")[0]
        port = self.sock.getsockname()[1]
        return f"uwsgi socket {self.index} bound to TCP address {host}:{port}{auto} fd {self.sock.fileno()}"


def set_timeouts(sock: socket.socket, seconds: float) -> None:
    """Give ``sock`` kernel timeouts for reads and writes (``SO_RCVTIMEO``, ``SO_SNDTIMEO``). A
    listening socket passes them to every connection it accepts (Linux copies them when the
    connection is made, so set them before ``listen``): a worker then serves a connection
    without ``settimeout`` and its ``poll`` before each read and write, and a read or write past
    the timeout raises ``BlockingIOError``."""
    whole = int(seconds)
    value = struct.pack("ll", whole, int((seconds - whole) * 1_000_000))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, value)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)


def _bind_one(index: int, spec: SocketSpec, backlog: int, timeout: int, defer_accept: bool) -> Listener:
    address = spec.address
    if address.startswith("@") or ":" not in address:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        target: str | tuple[str, int] = "\0" + address[1:] if address.startswith("@") else address
        if not address.startswith("@"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(address)  # uWSGI unlinks a stale unix socket before binding
    else:
        host, _, port = address.rpartition(":")
        host = host.strip("[]")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if defer_accept:  # as uWSGI: a worker wakes for a connection once its request's bytes are in
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, timeout)
        try:
            target = (host or "0.0.0.0", int(port))
        except ValueError:
            sock.close()
            raise BindError(f"invalid socket address: {address}") from None
    try:
        set_timeouts(sock, timeout)
        sock.bind(target)
        sock.listen(backlog)
    except OSError as error:
        sock.close()
        raise BindError(f"unable to bind {address}: {error.strerror or error}") from None
    sock.setblocking(False)
    if sock.family == socket.AF_UNIX:
        bound = address
    else:
        name = sock.getsockname()
        bound = f"{name[0]}:{name[1]}"
    return Listener(index, spec, sock, bound)


class Listeners:
    """The stack's listening sockets, bound in :meth:`bind` and closed in :meth:`close`."""

    def __init__(self) -> None:
        self.sockets: list[Listener] = []

    def bind(self, specs: list[SocketSpec], backlog: int, timeout: int, defer_accept: bool) -> list[str]:
        """Bind every socket (unix ones first, as uWSGI does); returns uWSGI's lines for them.
        Their connections time out after ``timeout`` seconds (``--socket-timeout``); with
        ``defer_accept``, a TCP connection waits up to ``timeout`` in the kernel for its first
        bytes before a worker sees it (uWSGI's ``TCP_DEFER_ACCEPT``; ``--no-defer-accept``).

        Raises:
            BindError: the first socket that could not be bound (the others are closed).
        """
        order = sorted(enumerate(specs), key=lambda item: not (item[1].address.startswith("@") or ":" not in item[1].address))
        try:
            for index, spec in order:
                self.sockets.append(_bind_one(index, spec, backlog, timeout, defer_accept))
        except BindError:
            self.close()
            raise
        lines = [listener.bound_line() for listener in self.sockets]
        self.sockets.sort(key=lambda listener: listener.index)
        return lines

    def inherited(self) -> tuple[tuple[str, int], ...]:
        """``(protocol, fd)`` of each socket, in uWSGI's order, for the stack spec."""
        return tuple((listener.spec.protocol, listener.sock.fileno()) for listener in self.sockets)

    def address(self, index: int = 0) -> str:
        """Where socket ``index`` listens: ``127.0.0.1:PORT`` or the unix address as given."""
        return self.sockets[index].bound

    def close(self) -> None:
        for listener in self.sockets:
            listener.sock.close()
            if listener.unix and not listener.spec.address.startswith("@"):
                with contextlib.suppress(OSError):
                    os.unlink(listener.spec.address)
        self.sockets.clear()
