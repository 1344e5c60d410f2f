"""Workers in real stacks, on real loopback sockets: requests served and logged as uWSGI logs them,
requests handing work to mules, signals run by workers between requests, a killed worker
respawned with uWSGI's lines, and real ``uwsgi --ping`` / ``--signal`` against a ``--socket``.

The lines are uWSGI 2.0.30's, measured with pyuwsgi (``--master --processes 2 --http-socket``):
``spawned uWSGI worker 1 (pid: P, cores: 1)``, ``DAMN ! worker 1 (pid: P) died, killed by signal
9 :( trying respawn ...``, ``Respawned uWSGI worker 1 (new pid: Q)``, ``worker 1 buried after 0
seconds`` on SIGINT, ``Gracefully killing worker 1 (pid: P)...`` on a graceful reload.
"""

from __future__ import annotations

import asyncio
import http.client
import os
import re
import signal
import subprocess

import pytest

from muletui.engine import events
from muletui.engine.lifecycle import RespawnPolicy, SlotState
from muletui.ipc import uwsgi_packet

UWSGI = "/tmp/uw/bin/uwsgi"
needs_uwsgi = pytest.mark.skipif(not os.path.exists(UWSGI), reason=f"no pyuwsgi at {UWSGI}")
QUICK = RespawnPolicy(base_delay=0.05)

APP = """
import time
import uwsgi

def on_signal(num):
    uwsgi.log(f"handler {num} in worker {uwsgi.worker_id()}")

uwsgi.register_signal(14, "workers", on_signal)

def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/slow":
        time.sleep(float(environ["QUERY_STRING"] or 1))
    if path == "/ids":
        body = f"worker {uwsgi.worker_id()} mule {uwsgi.mule_id()}"
        for call in (uwsgi.mule_get_msg, uwsgi.farm_get_msg):
            try:
                call()
            except ValueError as error:
                body += f"; {error}"
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [body.encode()]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello " + path.encode()]
"""


def get(address: str, path: str) -> tuple[int, bytes]:
    """One HTTP/1.1 GET on a new connection (the worker closes it after the answer)."""
    host, _, port = address.rpartition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", path)
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def worker_lines(run, worker_id: int) -> list[str]:
    """What worker ``worker_id`` wrote, in order, stdout and stderr apart."""
    return [
        line.text
        for event in run.events
        if isinstance(event, events.OutputLines) and event.worker_id == worker_id
        for line in event.lines
    ]


REQUEST_LINE = (
    r"^\[pid: (\d+)\|app: 0\|req: 1/1\] 127\.0\.0\.1 \(\) \{\d+ vars in \d+ bytes\} \[\w{3} \w{3} [ \d]\d [\d:]{8} \d{4}\] "
    r"GET /hello\?x=1 => generated 12 bytes in \d+ msecs \(HTTP/1\.1 200\) 1 headers in 45 bytes \(1 switches on core 0\)$"
)


async def test_a_stack_of_workers_and_no_mules_answers_a_get_and_logs_its_line(stack, write):
    app = write("app.py", APP)
    run = await stack("--http-socket", "127.0.0.1:0", "--wsgi-file", app)
    address = run.master.listeners.address()
    await run.line(r"^spawned uWSGI worker 1 \(pid: \d+, cores: 1\)$")
    port = address.rpartition(":")[2]
    assert run.matching(rf"^uwsgi socket 0 bound to TCP address 127\.0\.0\.1:{port} \(port auto-assigned\) fd \d+$")
    assert await asyncio.to_thread(get, address, "/hello?x=1") == (200, b"hello /hello")
    [line] = await run.line(REQUEST_LINE)
    assert int(re.match(REQUEST_LINE, line)[1]) == run.master.workers[1].pid
    status, body = await asyncio.to_thread(get, address, "/ids")
    assert status == 200
    assert body == (
        b"worker 1 mule 0; you can receive mule messages only in a mule !!!; "
        b"you can receive farm messages only in a mule !!!"
    )
    await run.until(lambda: run.master.snapshot().workers[0].status == "idle", what="the worker idle again")
    view = run.master.snapshot().workers[0]
    assert (view.worker_id, view.requests, view.tx_bytes) == (1, 2, 45 + 12 + 45 + len(body))


async def test_disable_logging_keeps_the_request_line_out_and_counts_the_request(stack, write):
    app = write("app.py", APP)
    run = await stack("--http-socket", "127.0.0.1:0", "--wsgi-file", app, "--disable-logging")
    await run.line("^spawned uWSGI worker 1")
    assert await asyncio.to_thread(get, run.master.listeners.address(), "/quiet") == (200, b"hello /quiet")
    await run.until(lambda: run.master.snapshot().workers[0].requests == 1, what="the request counted")
    assert not run.matching("GET /quiet")


OFFLOAD_APP = """
import uwsgi
from uwsgidecorators import mulefunc

@mulefunc(2)
def resize(name):
    print("resized", name, "in mule", uwsgi.mule_id(), flush=True)

def application(environ, start_response):
    uwsgi.mule_msg(environ["PATH_INFO"].encode(), 1)
    resize(environ["QUERY_STRING"])
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"queued"]
"""

PROGRAMMED = """
import uwsgi
while True:
    print("mule 1 got", uwsgi.mule_get_msg().decode(), flush=True)
"""


async def test_a_request_hands_work_to_a_programmed_mule_and_a_mulefunc_to_a_signal_mule(stack, write):
    app = write("app.py", OFFLOAD_APP)
    write("worker_job.py", PROGRAMMED)
    run = await stack("--http-socket", "127.0.0.1:0", "--wsgi-file", app, "--mule=worker_job.py", "--mule")
    await run.line("^spawned uWSGI mule 2")
    assert await asyncio.to_thread(get, run.master.listeners.address(), "/job-7?photo.png") == (200, b"queued")
    await run.line("^mule 1 got /job-7$", mule_id=1)
    await run.line("^resized photo.png in mule 2$", mule_id=2)
    sent = run.of(events.MessageSent)
    assert {(event.sender, event.worker_id) for event in sent} <= {(0, 1)}


async def test_a_signal_to_workers_runs_in_every_worker_the_busy_one_after_its_request(stack, write):
    app = write("app.py", APP)
    run = await stack("--http-socket", "127.0.0.1:0", "--processes", "2", "--wsgi-file", app)
    await run.line("^spawned uWSGI worker 2")
    slow = asyncio.create_task(asyncio.to_thread(get, run.master.listeners.address(), "/slow?1"))

    def busy() -> int:
        return next((w.worker_id for w in run.master.snapshot().workers if w.status == "busy"), 0)

    await run.until(lambda: busy() > 0, what="a worker serving /slow")
    busy_id = busy()
    idle_id = 3 - busy_id
    run.master.raise_signal(14)
    await run.line(f"^handler 14 in worker {idle_id}$")
    assert not slow.done() and f"handler 14 in worker {busy_id}" not in run.texts()
    assert await slow == (200, b"hello /slow")
    await run.line(f"^handler 14 in worker {busy_id}$")
    lines = worker_lines(run, busy_id)
    request = next(i for i, text in enumerate(lines) if "GET /slow?1 =>" in text)
    assert lines.index(f"handler 14 in worker {busy_id}") > request


async def test_a_killed_worker_is_respawned_with_uwsgis_lines_and_serves_again(stack, write):
    app = write("app.py", APP)
    run = await stack("--http-socket", "127.0.0.1:0", "--wsgi-file", app, respawn=QUICK)
    await run.line("^spawned uWSGI worker 1")
    pid = run.master.workers[1].pid
    os.kill(pid, signal.SIGKILL)
    await run.line(rf"^DAMN ! worker 1 \(pid: {pid}\) died, killed by signal 9 :\( trying respawn \.\.\.$")
    [line] = await run.line(r"^Respawned uWSGI worker 1 \(new pid: \d+\)$")
    new_pid = int(line.rpartition(": ")[2][:-1])
    assert new_pid == run.master.workers[1].pid != pid
    assert run.master.workers[1].state is SlotState.RUNNING
    assert await asyncio.to_thread(get, run.master.listeners.address(), "/again") == (200, b"hello /again")
    exited = run.of(events.WorkerExited)
    assert [(e.worker_id, e.signal, e.expected) for e in exited] == [(1, "SIGKILL", False)]


async def test_stopping_buries_every_worker_as_uwsgi_says(stack, write):
    app = write("app.py", APP)
    run = await stack("--http-socket", "127.0.0.1:0", "--processes", "2", "--wsgi-file", app, "--mule")
    await run.line("^spawned uWSGI mule 1")
    mule_pid = run.master.mules[1].pid
    await run.master.stop("SIGINT/SIGTERM received")
    texts = run.texts()
    after = texts[texts.index("SIGINT/SIGTERM received...killing workers..."):]
    buried = sorted(int(m[1]) for m in (re.match(r"^worker (\d) buried after [01] seconds$", t) for t in after) if m)
    assert buried == [1, 2]
    assert f"mule 1 (pid: {mule_pid}) annihilated" in after
    assert after[-1] == "goodbye to uWSGI."


async def test_a_worker_reload_lets_the_request_finish_and_forks_the_worker_again(stack, write):
    app = write("app.py", APP)
    run = await stack("--http-socket", "127.0.0.1:0", "--wsgi-file", app)
    await run.line("^spawned uWSGI worker 1")
    pid = run.master.workers[1].pid
    slow = asyncio.create_task(asyncio.to_thread(get, run.master.listeners.address(), "/slow?2"))  # long enough for a poll to see it busy
    await run.until(lambda: run.master.snapshot().workers[0].status == "busy", what="worker 1 busy")
    run.master.reload_workers()
    await run.line(rf"^Gracefully killing worker 1 \(pid: {pid}\)\.\.\.$")
    assert await slow == (200, b"hello /slow")
    await run.line(r"^worker 1 buried after [0-3] seconds$")  # it finished its 2-s request first
    await run.line(r"^spawned uWSGI worker 1 \(pid: \d+, cores: 1\)$", count=2)
    assert run.master.workers[1].pid not in (0, pid)
    assert [(e.worker_id, e.expected) for e in run.of(events.WorkerExited)] == [(1, True)]


@needs_uwsgi
async def test_real_uwsgi_pings_and_signals_a_muletui_socket(stack, write):
    app = write("app.py", APP)
    run = await stack("--socket", "127.0.0.1:0", "--processes", "2", "--wsgi-file", app)
    await run.line("^spawned uWSGI worker 2")
    address = run.master.listeners.address()
    ping = await asyncio.to_thread(subprocess.run, [UWSGI, "--ping", address], capture_output=True, timeout=20, check=False)
    assert ping.returncode == 0
    await run.line("^PING$")
    sent = await asyncio.to_thread(
        subprocess.run, [UWSGI, "--signal", f"{address},14"], capture_output=True, text=True, timeout=20, check=False
    )
    assert f"signal 14 delivered to node {address}" in sent.stdout + sent.stderr
    await run.line("^handler 14 in worker 1$")
    await run.line("^handler 14 in worker 2$")
    raised = [e for e in run.of(events.SignalRaised) if e.signum == 14]
    assert raised[0].source.startswith("worker ")
    assert sum(w.requests for w in run.master.snapshot().workers) == 1  # the remote signal counts, the ping not
    uwsgi_packet.send_signal(address, 99)  # unregistered: acked, then a worker cannot run it
    await run.line(r" - error managing signal 99 on worker [12]$")


WORKERS_APP = """
import uwsgi
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    mine = [w for w in uwsgi.workers() if w["id"] == uwsgi.worker_id()][0]
    return [repr((len(uwsgi.workers()), mine["pid"] == __import__("os").getpid(), mine["status"], mine["requests"])).encode()]
"""


async def test_uwsgi_workers_reads_every_worker_s_record(stack, write):
    run = await stack("--http-socket", "127.0.0.1:0", "--processes", "2", "--wsgi-file", write("app.py", WORKERS_APP))
    address = run.master.listeners.address()
    status, body = await asyncio.to_thread(get, address, "/")
    assert status == 200 and body == b"(2, True, b'busy', 0)"  # counted once answered, as in uWSGI
    seen = {(await asyncio.to_thread(get, address, "/"))[1] for _ in range(6)}
    assert any(answer.endswith((b"b'busy', 1)", b"b'busy', 2)")) for answer in seen), seen


def silent_then_get(address: str) -> float:
    """Open a connection that sends nothing, then time a GET on a second one (the stack has one
    worker): how long the real request waited behind the silent one."""
    host, _, port = address.rpartition(":")
    import socket  # noqa: PLC0415 - only this helper opens a raw connection
    import time  # noqa: PLC0415

    with socket.create_connection((host, int(port)), timeout=10):
        started = time.monotonic()
        assert get(address, "/after") == (200, b"hello /after")
        return time.monotonic() - started


@pytest.mark.parametrize(("options", "waits"), [((), False), (("--no-defer-accept",), True)], ids=["deferred", "no-defer"])
async def test_a_silent_connection_holds_no_worker_unless_accepts_are_not_deferred(stack, write, options, waits):
    """uWSGI sets TCP_DEFER_ACCEPT (its socket timeout) on TCP sockets: a connection that has sent
    nothing never reaches a worker. With --no-defer-accept the one worker takes it and waits the
    --socket-timeout (1 s) for its bytes before it can answer the next request."""
    app = write("app.py", APP)
    run = await stack("--http-socket", "127.0.0.1:0", "--wsgi-file", app, "--socket-timeout", "1", *options)
    await run.line("^spawned uWSGI worker 1")
    waited = await asyncio.to_thread(silent_then_get, run.master.listeners.address())
    assert (waited >= 0.9) is waits, waited


async def test_average_request_time_is_uwsgis_running_average(stack, write):
    """uWSGI keeps avg_rt as (average + this request's time) / 2: a 0.4 s request then a quick
    one give about 100 ms (the mean would be about 200 ms)."""
    app = write("app.py", APP)
    run = await stack("--http-socket", "127.0.0.1:0", "--wsgi-file", app)
    await run.line("^spawned uWSGI worker 1")
    address = run.master.listeners.address()
    assert (await asyncio.to_thread(get, address, "/slow?0.4"))[0] == 200
    assert (await asyncio.to_thread(get, address, "/quick"))[0] == 200
    await run.until(lambda: run.master.snapshot().workers[0].requests == 2, what="both requests counted")
    assert 95 <= run.master.snapshot().workers[0].avg_msecs <= 150
