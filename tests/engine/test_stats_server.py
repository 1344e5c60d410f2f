"""The stats server on real sockets, its document against uWSGI 2.0.30's, and uwsgitop 0.12
reading it in a pseudo-terminal.

Real uWSGI's document (``--master --processes 2 --http-socket 127.0.0.1:0 --stats ADDR --locks
2``, one request served) had these keys in this order, tab-indented ``"key":value`` lines; a
worker's ``tx`` 48 and ``running_time`` 272 after one 48-byte answer.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import pty
import socket
import struct
import sys
import termios
from pathlib import Path
from typing import Any

import pytest

from muletui.engine.stats_server import (
    MuleFigures,
    SocketFigures,
    StackFigures,
    StatsServer,
    WorkerFigures,
    encode_document,
    parse_address,
    stats_document,
)

UWSGI_TOP_KEYS = [
    "version", "listen_queue", "listen_queue_errors", "signal_queue", "load", "pid", "uid", "gid", "cwd",
    "locks", "sockets", "workers",
]  # fmt: skip
UWSGI_WORKER_KEYS = [
    "id", "pid", "accepting", "requests", "delta_requests", "exceptions", "harakiri_count", "signals",
    "signal_queue", "status", "rss", "vsz", "running_time", "last_spawn", "respawn_count", "tx", "avg_rt",
    "apps", "cores",
]  # fmt: skip
UWSGI_LOCKS = ["user 0", "user 1", "user 2", "signal", "filemon", "timer", "rbtimer", "cron", "rpc", "snmp"]
UWSGI_SOCKET_KEYS = ["name", "proto", "queue", "max_queue", "shared", "can_offload"]
UWSGI_APP_KEYS = ["id", "modifier1", "mountpoint", "startup_time", "requests", "exceptions", "chdir"]
UWSGI_CORE_KEYS = [
    "id", "requests", "static_requests", "routed_requests", "offloaded_requests", "write_errors", "read_errors",
    "in_request", "vars", "req_info",
]  # fmt: skip

UWSGITOP = Path(sys.executable).with_name("uwsgitop")


def stack(**changes: Any) -> StackFigures:
    figures = StackFigures(
        pid=os.getpid(), uid=os.getuid(), gid=os.getgid(), cwd="/srv/app",
        workers=(
            WorkerFigures(id=1, pid=20001, requests=162, tx=16384, running_time=4_938_268, last_spawn=1_796_457_792,
                          avg_rt=136, signals=12),
            WorkerFigures(id=2, pid=20002, requests=40, status="busy", exceptions=2, respawn_count=3),
            WorkerFigures(id=3, pid=20003, requests=1, status="sig17", signals=4),
        ),
        mules=(MuleFigures(id=1, pid=20101, program="worker.py", farms=("f",), messages=100),
               MuleFigures(id=2, pid=20102, status="sig17", signals=16)),
        sockets=(SocketFigures("127.0.0.1:8000", "http", max_queue=100),),
        user_locks=(0, 20002, 0),
    )  # fmt: skip
    return StackFigures(**{**{field: getattr(figures, field) for field in figures.__slots__}, **changes})


def test_document_has_uwsgis_keys_in_uwsgis_order_then_mules() -> None:
    document = stats_document(stack())
    assert list(document) == [*UWSGI_TOP_KEYS, "mules"]
    assert [next(iter(lock)) for lock in document["locks"]] == UWSGI_LOCKS
    assert document["locks"][1] == {"user 1": 20002}
    assert list(document["sockets"][0]) == UWSGI_SOCKET_KEYS
    for worker in document["workers"]:
        assert list(worker) == UWSGI_WORKER_KEYS
        assert list(worker["apps"][0]) == UWSGI_APP_KEYS
        assert list(worker["cores"][0]) == UWSGI_CORE_KEYS
    assert [worker["cores"][0]["in_request"] for worker in document["workers"]] == [0, 1, 0]
    assert document["mules"][0] == {
        "id": 1, "pid": 20101, "program": "worker.py", "mode": "programmed", "farms": ["f"], "status": "idle",
        "signals": 0, "messages": 100, "signal_queue": 0, "msg_queue": 0, "respawn_count": 1, "last_spawn": 0,
        "harakiri_count": 0,
    }  # fmt: skip
    assert document["mules"][1]["mode"] == "signal"
    assert stats_document(stack(app_loaded=False))["workers"][0]["apps"] == []


def test_every_row_has_what_uwsgitop_needs() -> None:
    """uwsgi-workers.md §4.2: a missing or mistyped key crashes uwsgitop or hides the row."""
    document = json.loads(encode_document(stats_document(stack())))
    assert isinstance(document["version"], str) and isinstance(document["cwd"], str)
    assert all(isinstance(document[key], int) for key in ("uid", "gid", "pid", "listen_queue"))
    for row in document["workers"]:
        assert isinstance(row["status"], str)
        for key in ("id", "pid", "requests", "tx", "running_time", "last_spawn", "exceptions", "respawn_count",
                    "harakiri_count", "avg_rt", "rss", "vsz", "signals"):  # fmt: skip
            assert type(row[key]) is int, key
        assert {"id", "requests", "in_request"} <= set(row["cores"][0])


def test_encoding_is_uwsgis_layout_or_minified() -> None:
    text = encode_document({"version": "2.0.30", "locks": [{"user 0": 0}]}).decode()
    assert text.startswith('{\n\t"version":"2.0.30",\n\t"locks":[\n\t\t{\n\t\t\t"user 0":0\n\t\t}\n\t]\n}')
    assert encode_document({"a": [1, 2]}, minified=True) == b'{"a":[1,2]}'


def test_addresses() -> None:
    assert parse_address(":9191") == ("127.0.0.1", 9191)  # loopback where uWSGI takes every interface
    assert parse_address("0.0.0.0:9191") == ("0.0.0.0", 9191)
    assert parse_address("[::1]:9191") == ("::1", 9191)
    assert parse_address("/run/stats.sock") == "/run/stats.sock"
    assert parse_address("@stats") == "\0stats"


async def read_document(address: str) -> tuple[dict[str, Any], bytes]:
    """What uwsgitop does: connect, read until the server closes, parse."""
    target = parse_address(address)
    if isinstance(target, tuple):
        reader, writer = await asyncio.open_connection(*target)
    else:
        reader, writer = await asyncio.open_unix_connection(target)
    data = await reader.read()  # to EOF
    writer.close()
    return json.loads(data), data


async def test_one_fresh_document_per_connection_then_close() -> None:
    calls: list[int] = []

    def figures() -> StackFigures:
        calls.append(1)
        return stack(listen_queue=len(calls))

    server = StatsServer(figures)
    await server.start(":0")
    address = server.address
    try:
        assert address.startswith("127.0.0.1:")
        first, raw = await read_document(address)
        second, _ = await read_document(address)
        assert (first["listen_queue"], second["listen_queue"]) == (1, 2)
        assert raw.startswith(b'{\n\t"version":"2.0.30",')
        # a client that writes and leaves at once does not stop the server
        host, port = parse_address(address)
        _, writer = await asyncio.open_connection(host, port)
        writer.write(b"GET / HTTP/1.0\r\n\r\n")
        writer.transport.abort()
        third, _ = await read_document(address)
        assert third["workers"][0]["pid"] == 20001
    finally:
        await server.close()
    with pytest.raises(ConnectionRefusedError):
        await read_document(address)


async def test_unix_and_abstract_sockets(tmp_path: Path) -> None:
    path = tmp_path / "stats.sock"
    for address in (str(path), f"@muletui-stats-{os.getpid()}"):
        server = StatsServer(stack, minified=True)
        await server.start(address)
        try:
            assert server.address == address
            document, raw = await read_document(address)
            assert b"\n" not in raw and document["mules"][1]["pid"] == 20102
        finally:
            await server.close()
    assert not path.exists()


# --- uwsgitop 0.12 in a pseudo-terminal ---------------------------------------------------------


@pytest.mark.skipif(not UWSGITOP.exists(), reason="uwsgitop is not installed (pip install uwsgitop==0.12)")
async def test_uwsgitop_shows_a_row_per_worker() -> None:
    pyte = pytest.importorskip("pyte", reason="the screen is read through pyte (muletui[bench])")
    terminal = pyte.Screen(160, 30)
    stream = pyte.ByteStream(terminal)
    server = StatsServer(stack)
    await server.start(":0")
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 160, 0, 0))
    process = await asyncio.create_subprocess_exec(
        str(UWSGITOP), server.address, stdin=slave, stdout=slave, stderr=slave,
        env={**{k: v for k, v in os.environ.items() if k not in ("LINES", "COLUMNS")}, "TERM": "xterm"},
        start_new_session=True,
    )  # fmt: skip
    os.close(slave)  # curses takes the pty's size (160x30), unless LINES/COLUMNS say otherwise
    loop = asyncio.get_running_loop()
    loop.add_reader(master, lambda: stream.feed(os.read(master, 65536)))

    def rows() -> list[list[str]]:
        return [line.split() for line in terminal.display if line.split()[:1] in (["1"], ["2"], ["3"])]

    try:
        deadline = loop.time() + 15
        while len(rows()) < 3 and loop.time() < deadline:
            await asyncio.sleep(0.05)
        assert terminal.display[0].split()[0] == "uwsgi-2.0.30"
        assert f"masterpid: {os.getpid()}" in terminal.display[1]
        assert terminal.display[2].split() == [
            "WID", "%", "PID", "REQ", "RPS", "EXC", "SIG", "STATUS", "AVG", "RSS", "VSZ", "TX", "ReSpwn", "HC", "RunT",
            "LastSpwn",
        ]  # fmt: skip
        # a row per worker, sorted by requests as uWSGI's are; the mules (muletui's key) are not rows
        by_worker = {row[0]: row for row in rows()}
        assert [row[0] for row in rows()] == ["1", "2", "3"]
        assert [by_worker[wid][2] for wid in "123"] == ["20001", "20002", "20003"]
        assert [by_worker[wid][7] for wid in "123"] == ["idle", "busy", "sig17"]
        assert by_worker["1"][11] == "16.0K" and by_worker["1"][14] == "4938.268"
        assert by_worker["2"][5] == "2" and by_worker["2"][12] == "3" and by_worker["2"][15] == "--:--:--"
        assert "20101" not in "\n".join(terminal.display)
        os.write(master, b"q")
        assert await asyncio.wait_for(process.wait(), 10) == 0
    finally:
        loop.remove_reader(master)
        if process.returncode is None:
            process.terminate()
            await process.wait()
        os.close(master)
        await server.close()


def test_nothing_listens_after_close_on_a_fixed_port() -> None:
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()

    async def run() -> None:
        server = StatsServer(stack)
        await server.start(f"127.0.0.1:{port}")
        assert server.address == f"127.0.0.1:{port}"
        await server.close()

    asyncio.run(run())
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
