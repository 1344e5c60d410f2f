"""Turns the reports stack processes write into the report socket into engine events."""

from __future__ import annotations

import asyncio
import socket

from muletui.engine import events
from muletui.engine.bus import EventBus
from muletui.ipc import reports

_BATCH = 512  # reports handled per wake-up, so a burst cannot starve the loop


class ReportReader:
    """Reads the master's end of the report socket on the event loop."""

    def __init__(self, sock: socket.socket, bus: EventBus) -> None:
        self._sock = sock
        self._bus = bus
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(sock.fileno(), self.drain)
        self.malformed = 0

    def drain(self, limit: int = _BATCH) -> None:
        for _ in range(limit):
            try:
                data = self._sock.recv(1 << 16)
            except (BlockingIOError, OSError):
                return
            try:
                event = _to_event(reports.decode(data))
            except (ValueError, EOFError, TypeError):
                self.malformed += 1
                continue
            self._bus.publish(event)

    def close(self) -> None:
        self._loop.remove_reader(self._sock.fileno())


def _to_event(report: reports.Report) -> events.Event:
    kind = report[0]
    if kind == reports.SENT:
        _k, slot, target, size, preview = report
        return events.MessageSent(sender=slot, target=target, size=size, preview=preview)  # type: ignore[arg-type]
    if kind == reports.DROPPED:
        _k, slot, target, size, reason = report
        return events.MessageDropped(sender=slot, target=target, size=size, reason=reason)  # type: ignore[arg-type]
    if kind == reports.RECEIVED:
        _k, slot, queue, size, preview, buffer_size = report
        return events.MessageReceived(
            mule_id=slot, queue=queue, size=size, preview=preview, maybe_truncated=size == buffer_size  # type: ignore[arg-type]
        )
    if kind == reports.WARNING:
        _k, slot, text = report
        return events.StackWarning(text=text, mule_id=slot)  # type: ignore[arg-type]
    raise ValueError(f"unknown report {kind!r}")
