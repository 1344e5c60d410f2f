"""The per-process report budget: never blocks, never exceeds its rate, counts what it skips."""

from __future__ import annotations

import socket
import time

from muletui.ipc import reports
from muletui.ipc.stats_block import Field, StatsBlock
from muletui.stack.reporter import Reporter


def test_reports_beyond_the_rate_are_counted_not_sent():
    writer, reader = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    writer.setblocking(False)
    reader.setblocking(False)
    stats = StatsBlock.create(2)
    try:
        reporter = Reporter(writer.fileno(), stats, 1, rate=50, batching=False)
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


def test_posted_reports_travel_in_one_batch():
    writer, reader = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    writer.setblocking(False)
    reader.setblocking(False)
    stats = StatsBlock.create(2)
    try:
        reporter = Reporter(writer.fileno(), stats, 1, rate=1000, batching=True)
        for i in range(3):
            reporter.post((reports.SENT, 1, 1, i, b""))
        reporter.send_always((reports.WARNING, 1, "after the three"))
        first, second = reports.decode(reader.recv(65536)), reports.decode(reader.recv(65536))
        assert first == (reports.BATCH, *[(reports.SENT, 1, 1, i, b"") for i in range(3)])
        assert second == (reports.WARNING, 1, "after the three")
        reporter.post((reports.SENT, 1, 1, 9, b""))
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:  # the flusher thread sends it within ~20 ms
            try:
                assert reports.decode(reader.recv(65536)) == (reports.BATCH, (reports.SENT, 1, 1, 9, b""))
                break
            except BlockingIOError:
                time.sleep(0.005)
        else:
            raise AssertionError("the posted report was never flushed")
    finally:
        stats.close()
        writer.close()
        reader.close()
