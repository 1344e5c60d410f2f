"""Reading the datagram channels stack processes write to the master (reports, raised signals),
and turning the reports that are plain news into events."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

from muletui.engine import events
from muletui.ipc import reports
from muletui.ipc.previews import describe

_BATCH = 512  # datagrams handled per wake-up, so a burst cannot starve the loop


class DatagramReader:
    """Reads one SOCK_SEQPACKET socket on the event loop and hands each datagram (of at most
    ``size`` bytes) to ``handle``; stops reading when the peer has closed its end."""

    def __init__(self, sock: socket.socket, handle: Callable[[bytes], None], size: int = 1 << 16) -> None:
        self._sock = sock
        self._handle = handle
        self._size = size
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(sock.fileno(), self.drain)

    def drain(self, limit: int = _BATCH) -> None:
        for _ in range(limit):
            try:
                data = self._sock.recv(self._size)
            except OSError:  # BlockingIOError when empty
                return
            if not data:  # the peer's end is closed (our senders never send an empty datagram)
                self.close()
                return
            self._handle(data)

    def close(self) -> None:
        if self._sock.fileno() >= 0:
            self._loop.remove_reader(self._sock.fileno())


def split_slot(slot: int, mules: int) -> tuple[int, int]:
    """``(mule_id, worker_id)`` of a stats block slot in a stack of ``mules`` mules (the root: both 0)."""
    return (0, slot - mules) if slot > mules else (slot, 0)


def report_event(report: reports.Report, mules: int = 0) -> events.Event | None:
    """The event a message, lock or warning report stands for; ``None`` for the reports the
    signal service acts on (registrations, timers, routed and handled signals). ``mules``: the
    stack's mule count, past which a slot is a worker's."""
    kind = report[0]
    if kind == reports.SENT:
        _k, slot, target, size, preview = report
        sender, worker = split_slot(slot, mules)
        return events.MessageSent(
            sender=sender, target=target, size=size, preview=reports.preview_text(preview), worker_id=worker
        )
    if kind == reports.DROPPED:
        _k, slot, target, size, reason = report
        sender, worker = split_slot(slot, mules)
        return events.MessageDropped(sender=sender, target=target, size=size, reason=reason, worker_id=worker)
    if kind == reports.RECEIVED:
        _k, slot, queue, size, data, buffer_size, swallowed = report
        preview = describe(data)
        return events.MessageReceived(
            mule_id=slot,
            queue=queue,
            size=size,
            preview=preview.text,
            maybe_truncated=size == buffer_size,
            swallowed=swallowed,
            mulefunc=preview.mulefunc,
        )
    if kind == reports.HOOK_RAISED:
        _k, slot, queue, size, data, error = report
        preview = describe(data)
        return events.MessageHookRaised(
            mule_id=slot, queue=queue, size=size, preview=preview.text, error=error, mulefunc=preview.mulefunc
        )
    if kind == reports.WARNING:
        mule, worker = split_slot(report[1], mules)
        return events.StackWarning(text=report[2], mule_id=mule, worker_id=worker)
    if kind == reports.LOCK:
        _k, slot, lock, operation, thread = report
        mule, worker = split_slot(slot, mules)
        return events.LockOperation(lock=lock, mule_id=mule, operation=operation, thread=thread, worker_id=worker)
    return None
