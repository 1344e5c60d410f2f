"""The stack's IPC objects, created once by the master and never recreated (uWSGI §0).

Every message queue is an ``AF_UNIX SOCK_SEQPACKET`` pair in non-blocking mode: writers use one
end, readers the other, and the kernel's socket accounting gives uWSGI's exact limits (≈278
small messages queued, SO_SNDBUF − 32 bytes per message) for free. Queues outlive the mules
that read them, so what is queued for a dead mule is read by its next incarnation.
"""

from __future__ import annotations

import fcntl
import socket
import termios
from dataclasses import dataclass

from muletui.ipc.spec import ChannelFds, FarmSpec

#: Send buffer of the report socket: large, so bursts of per-message reports fit.
REPORT_BUFFER = 4 * 1024 * 1024


@dataclass
class Queue:
    """One socket pair and the name it is shown under (``mule 1``, ``shared``, ``farm busy``)."""

    name: str
    send: socket.socket
    recv: socket.socket

    @property
    def fds(self) -> ChannelFds:
        return ChannelFds(self.send.fileno(), self.recv.fileno())

    def pending_bytes(self) -> int:
        """Bytes waiting to be read (``SIOCINQ``), without consuming anything."""
        return int.from_bytes(fcntl.ioctl(self.recv.fileno(), termios.FIONREAD, b"\0\0\0\0"), "little")

    def drain(self) -> tuple[int, int]:
        """Read and discard what is left: ``(messages, bytes)``. Only for a stopped stack."""
        count = size = 0
        while True:
            try:
                data = self.recv.recv(1 << 20)
            except BlockingIOError:
                return count, size
            count += 1
            size += len(data)

    def close(self) -> None:
        self.send.close()
        self.recv.close()


def _pair(name: str, kind: socket.SocketKind, buffer_size: int) -> Queue:
    send, recv = socket.socketpair(socket.AF_UNIX, kind)
    for sock in (send, recv):
        sock.setblocking(False)
        if buffer_size:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, buffer_size)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffer_size)
    return Queue(name, send, recv)


class Channels:
    """All queues and signal sockets of a stack, the raise channel and the report socket.

    Signal sockets are SOCK_STREAM pairs carrying one byte per signal, as uWSGI's: the
    kernel's accounting then caps them at uWSGI's ≈278 pending signals.
    """

    def __init__(
        self, mule_ids: list[int], farms: list[FarmSpec], mule_msg_size: int, signal_bufsize: int = 0, workers: int = 0
    ) -> None:
        seq, stream = socket.SOCK_SEQPACKET, socket.SOCK_STREAM
        self.shared = _pair("shared", seq, mule_msg_size)
        self.mules = {mule_id: _pair(f"mule {mule_id}", seq, mule_msg_size) for mule_id in mule_ids}
        self.farms = {farm.index: _pair(f"farm {farm.name}", seq, mule_msg_size) for farm in farms}
        self.shared_signal = _pair("shared mule signals", stream, signal_bufsize)
        self.mule_signals = {i: _pair(f"mule {i} signals", stream, signal_bufsize) for i in mule_ids}
        self.farm_signals = {f.index: _pair(f"farm {f.name} signals", stream, signal_bufsize) for f in farms}
        self.shared_worker_signal = _pair("shared worker signals", stream, signal_bufsize)
        self.worker_signals = {i: _pair(f"worker {i} signals", stream, signal_bufsize) for i in range(1, workers + 1)}
        self.raised = _pair("raised signals", seq, signal_bufsize)
        self.report = _pair("reports", seq, 0)
        self.report.send.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, REPORT_BUFFER)
        self.report.recv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, REPORT_BUFFER)

    def queues(self) -> list[Queue]:
        """The message queues (not the signal sockets)."""
        return [self.shared, *self.mules.values(), *self.farms.values()]

    def signal_sockets(self) -> list[Queue]:
        return [
            self.shared_signal, *self.mule_signals.values(), *self.farm_signals.values(),
            self.shared_worker_signal, *self.worker_signals.values(),
        ]  # fmt: skip

    def inherited_fds(self) -> list[int]:
        """Descriptors the stack root must inherit (the report and raise readers stay here)."""
        fds = [self.report.send.fileno(), self.raised.send.fileno()]
        for pair in (*self.queues(), *self.signal_sockets()):
            fds += [pair.send.fileno(), pair.recv.fileno()]
        return fds

    def close(self) -> None:
        for pair in (*self.queues(), *self.signal_sockets(), self.raised, self.report):
            pair.close()
