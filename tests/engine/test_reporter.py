"""The per-process report budget and batches: never blocking, never over the rate, counted."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from muletui.ipc import reports
from muletui.ipc.stats_block import Field, StatsBlock
from muletui.stack.reporter import Reporter


@pytest.fixture
def channel() -> Iterator[tuple[socket.socket, socket.socket, StatsBlock]]:
    writer, reader = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    writer.setblocking(False)
    reader.setblocking(False)
    stats = StatsBlock.create(2)
    yield writer, reader, stats
    stats.close()
    writer.close()
    reader.close()


def received(reader: socket.socket) -> list[reports.Report]:
    got = []
    while True:
        try:
            got.append(reports.decode(reader.recv(65536)))
        except BlockingIOError:
            return got


def test_reports_beyond_the_rate_are_counted_not_sent(channel):
    writer, reader, stats = channel
    reporter = Reporter(writer.fileno(), stats, 1, rate=50, batching=False)
    for i in range(200):
        reporter.send((reports.SENT, 1, 1, i, ""))
    got = received(reader)
    assert 50 <= len(got) <= 52
    assert len(got) + stats.get(1, Field.EVENTS_DROPPED) == 200
    assert got[0] == (reports.SENT, 1, 1, 0, "")


def test_posted_reports_travel_in_one_batch(channel):
    writer, reader, stats = channel
    reporter = Reporter(writer.fileno(), stats, 1, rate=1000, batching=True)
    for i in range(3):
        reporter.post((reports.SENT, 1, 1, i, b""))
    reporter.send_always((reports.WARNING, 1, "after the three"))
    assert received(reader) == [
        (reports.BATCH, *[(reports.SENT, 1, 1, i, b"") for i in range(3)]),
        (reports.WARNING, 1, "after the three"),
    ]
    reporter.post((reports.SENT, 1, 1, 9, b""))
    deadline = time.monotonic() + 2
    while not (got := received(reader)) and time.monotonic() < deadline:
        time.sleep(0.005)  # the flusher thread sends it ~20 ms after it was posted
    assert got == [(reports.BATCH, (reports.SENT, 1, 1, 9, b""))]
