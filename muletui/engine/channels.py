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

from muletui.ipc.spec import FarmSpec, QueueFds

#: Send buffer of the report socket: large, so bursts of per-message reports fit.
REPORT_BUFFER = 4 * 1024 * 1024


@dataclass
class Queue:
    """One message queue and the name it is shown under (``mule 1``, ``shared``, ``farm busy``)."""

    name: str
    send: socket.socket
    recv: socket.socket

    @property
    def fds(self) -> QueueFds:
        return QueueFds(self.send.fileno(), self.recv.fileno())

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


def _queue(name: str, buffer_size: int) -> Queue:
    send, recv = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    for sock in (send, recv):
        sock.setblocking(False)
        if buffer_size:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, buffer_size)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffer_size)
    return Queue(name, send, recv)


class Channels:
    """All queues of a stack plus the report socket stack processes write into."""

    def __init__(self, mule_ids: list[int], farms: list[FarmSpec], mule_msg_size: int) -> None:
        self.shared = _queue("shared", mule_msg_size)
        self.mules = {mule_id: _queue(f"mule {mule_id}", mule_msg_size) for mule_id in mule_ids}
        self.farms = {farm.index: _queue(f"farm {farm.name}", mule_msg_size) for farm in farms}
        self.report_send, self.report_recv = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.report_send.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, REPORT_BUFFER)
        self.report_recv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, REPORT_BUFFER)
        for sock in (self.report_send, self.report_recv):
            sock.setblocking(False)

    def queues(self) -> list[Queue]:
        return [self.shared, *self.mules.values(), *self.farms.values()]

    def inherited_fds(self) -> list[int]:
        """Descriptors the stack root must inherit (the report reader stays with the master)."""
        fds = [self.report_send.fileno()]
        for queue in self.queues():
            fds += [queue.send.fileno(), queue.recv.fileno()]
        return fds

    def close(self) -> None:
        for queue in self.queues():
            queue.close()
        self.report_send.close()
        self.report_recv.close()
