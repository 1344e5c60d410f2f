"""Reading the datagram channels stack processes write to the master (reports, raised signals)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

_BATCH = 512  # datagrams handled per wake-up, so a burst cannot starve the loop


class DatagramReader:
    """Reads one SOCK_SEQPACKET socket on the event loop and hands each datagram to ``handle``."""

    def __init__(self, sock: socket.socket, handle: Callable[[bytes], None]) -> None:
        self._sock = sock
        self._handle = handle
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(sock.fileno(), self.drain)

    def drain(self, limit: int = _BATCH) -> None:
        for _ in range(limit):
            try:
                data = self._sock.recv(1 << 16)
            except OSError:  # BlockingIOError when empty
                return
            self._handle(data)

    def close(self) -> None:
        self._loop.remove_reader(self._sock.fileno())
