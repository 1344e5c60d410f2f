"""``--stats`` on a real headless stack: uWSGI's stats JSON counts each worker's requests, and
uwsgitop 0.12 draws a row per worker in a pseudo-terminal (its screen read through pyte).

uWSGI 2.0.30 (pyuwsgi, ``--master --processes 2 --http-socket 127.0.0.1:0 --stats ADDR``) logs
``*** Stats server enabled on ADDR fd: N ***`` with ADDR as given, after its workers' spawned
lines; a taken address ends it with status 1 (``bind(): Address already in use``).
"""

from __future__ import annotations

import fcntl
import http.client
import json
import os
import pty
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Any

import pytest

UWSGITOP = Path(sys.executable).with_name("uwsgitop")

APP = """
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]
"""

REQUEST = re.compile(r"\[pid: (\d+)\|app: 0\|req: \d+/\d+\] 127\.0\.0\.1 .* GET /n")


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


def get(address: str, path: str) -> bytes:
    host, _, port = address.rpartition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", path)
        return conn.getresponse().read()
    finally:
        conn.close()


def document(port: int) -> dict[str, Any]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    return json.loads(data)


def uwsgitop_screen(address: str, done, timeout: float = 15.0) -> list[str]:
    """Run uwsgitop on a 160x30 pseudo-terminal until ``done(screen lines)``; quit it with q."""
    pyte = pytest.importorskip("pyte", reason="the screen is read through pyte (muletui[bench])")
    screen = pyte.Screen(160, 30)
    stream = pyte.ByteStream(screen)
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 160, 0, 0))
    env = {**{k: v for k, v in os.environ.items() if k not in ("LINES", "COLUMNS")}, "TERM": "xterm"}
    top = subprocess.Popen(
        [str(UWSGITOP), address], stdin=terminal, stdout=terminal, stderr=terminal, env=env, start_new_session=True
    )
    os.close(terminal)
    try:
        deadline = time.monotonic() + timeout
        while not done(screen.display) and time.monotonic() < deadline:
            if select.select([controller], [], [], 0.1)[0]:
                stream.feed(os.read(controller, 65536))
        shown = list(screen.display)
        os.write(controller, b"q")
        assert top.wait(10) == 0
        return shown
    finally:
        if top.poll() is None:
            top.kill()
            top.wait()
        os.close(controller)


@pytest.mark.skipif(not UWSGITOP.exists(), reason="uwsgitop is not installed (pip install uwsgitop==0.12)")
def test_stats_count_each_workers_requests_and_uwsgitop_shows_them(cli, write):
    write("app.py", APP)
    port = free_port()
    run = cli("--headless", "--http-socket", "127.0.0.1:0", "--processes", "2", "--stats", f"127.0.0.1:{port}",
              "--wsgi-file", "app.py", "--mule")  # fmt: skip
    output = run.read_until(r"spawned uWSGI worker 2 \(pid: \d+")
    workers = [int(pid) for pid in re.findall(r"spawned uWSGI worker \d \(pid: (\d+)", output)]
    cli.track(workers)
    assert re.search(rf"\| \*\*\* Stats server enabled on 127\.0\.0\.1:{port} fd: \d+ \*\*\*\n", output)
    address = re.search(r"bound to TCP address (127\.0\.0\.1:\d+)", output)[1]
    for n in range(7):
        assert get(address, f"/n{n}") == b"hello"
    output = run.read_until(r"(?s)(GET /n.*){7}")
    served = [int(pid) for pid in REQUEST.findall(output)]

    deadline = time.monotonic() + 10
    stats = document(port)
    # a worker counts a request as it answers, and goes idle after writing its line
    while (sum(w["requests"] for w in stats["workers"]) < 7 or any(w["status"] != "idle" for w in stats["workers"])) \
            and time.monotonic() < deadline:
        time.sleep(0.05)
        stats = document(port)
    rows = {w["id"]: w for w in stats["workers"]}
    assert [(rows[i]["pid"], rows[i]["requests"]) for i in (1, 2)] == [(pid, served.count(pid)) for pid in workers]
    assert all(rows[i]["status"] == "idle" and rows[i]["tx"] == 50 * rows[i]["requests"] for i in (1, 2))
    # microseconds, as uWSGI counts them: a request well under a millisecond still counts
    assert all(rows[i]["running_time"] > 0 and rows[i]["avg_rt"] > 0 for i in (1, 2) if rows[i]["requests"])
    assert stats["sockets"][0]["name"] == address and stats["sockets"][0]["proto"] == "http"
    assert [mule["mode"] for mule in stats["mules"]] == ["signal"]
    assert document(port)["workers"][0]["delta_requests"] == 0  # counted since the previous document

    def worker_rows(screen: list[str]) -> dict[str, list[str]]:
        return {row[0]: row for row in (line.split() for line in screen) if row[:1] in (["1"], ["2"])}

    screen = uwsgitop_screen(f"127.0.0.1:{port}", lambda lines: len(worker_rows(lines)) == 2)
    assert screen[0].split()[:1] == ["uwsgi-2.0.30"] and " req: 7 " in screen[0]
    shown = worker_rows(screen)
    assert [(int(shown[wid][2]), int(shown[wid][3])) for wid in "12"] == [(rows[i]["pid"], rows[i]["requests"]) for i in (1, 2)]

    run.process.send_signal(signal.SIGINT)
    assert run.wait() == 0
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_a_taken_stats_address_stops_the_stack_before_anything_forks(cli, write):
    write("app.py", APP)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        run = cli("--headless", "--http-socket", "127.0.0.1:0", "--stats", f"127.0.0.1:{port}", "--wsgi-file", "app.py")
        assert run.wait() == 1
    assert f"unable to bind the stats server to 127.0.0.1:{port}: Address already in use" in run.output
    assert "spawned" not in run.output


SLOW_APP = """
import time

def application(environ, start_response):
    if environ["PATH_INFO"] == "/slow":
        time.sleep(30)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]
"""


def poll_document(port: int, done, what: str) -> dict[str, Any]:
    """The stats document, read again every 50 ms until ``done(document)`` (10 s at most)."""
    deadline = time.monotonic() + 10
    stats = document(port)
    while not done(stats):
        assert time.monotonic() < deadline, f"{what}: {json.dumps(stats)[:600]}"
        time.sleep(0.05)
        stats = document(port)
    return stats


def test_listen_queue_counts_the_connections_waiting_for_a_worker(cli, write):
    """uWSGI reads each TCP socket's accept queue (TCP_INFO) into ``queue`` and sums them in
    ``listen_queue``: with its one worker busy, 3 requests sent wait in the queue."""
    write("app.py", SLOW_APP)
    port = free_port()
    run = cli("--headless", "--http-socket", "127.0.0.1:0", "--stats", f"127.0.0.1:{port}", "--wsgi-file", "app.py")
    output = run.read_until(r"spawned uWSGI worker 1 \(pid: \d+")
    address = re.search(r"bound to TCP address 127\.0\.0\.1:(\d+)", output)
    target = ("127.0.0.1", int(address[1]))
    clients = [socket.create_connection(target, timeout=10)]
    clients[0].sendall(b"GET /slow HTTP/1.0\r\n\r\n")
    poll_document(port, lambda stats: stats["workers"][0]["status"] == "busy", "the worker busy")
    assert document(port)["listen_queue"] == 0
    for _ in range(3):
        clients.append(socket.create_connection(target, timeout=10))
        clients[-1].sendall(b"GET /queued HTTP/1.0\r\n\r\n")
    stats = poll_document(port, lambda stats: stats["listen_queue"] == 3, "3 connections queued")
    assert (stats["sockets"][0]["queue"], stats["sockets"][0]["max_queue"]) == (3, 100)
    for client in clients:
        client.close()
    run.process.send_signal(signal.SIGINT)
    assert run.wait() == 0
