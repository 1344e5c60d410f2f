"""The per-process report budget: never blocks, never exceeds its rate, counts what it skips."""

from __future__ import annotations

import socket

from muletui.ipc import reports
from muletui.ipc.stats_block import Field, StatsBlock
from muletui.stack.reporter import Reporter


def test_reports_beyond_the_rate_are_counted_not_sent():
    writer, reader = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    writer.setblocking(False)
    reader.setblocking(False)
    stats = StatsBlock.create(2)
    try:
        reporter = Reporter(writer.fileno(), stats, 1, rate=50)
        for i in range(200):
            reporter.send((reports.SENT, 1, 1, i, ""))
        received = []
        while True:
            try:
                received.append(reports.decode(reader.recv(4096)))
            except BlockingIOError:
                break
        assert 50 <= len(received) <= 52
        assert len(received) + stats.get(1, Field.EVENTS_DROPPED) == 200
        assert received[0] == (reports.SENT, 1, 1, 0, "")
    finally:
        stats.close()
        writer.close()
        reader.close()
