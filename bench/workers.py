"""Workers side by side with real uWSGI 2.0.30: requests per second, and a request handing work
to a mule.

Usage, from the repository root::

    .venv/bin/python bench/workers.py [--runs N] [--quick] [--cpus LIST] [--uwsgi PATH]

1. **Requests.** ``--processes 2 --http-socket 127.0.0.1:0`` and a hello-world app, loaded with
   ``ab -n 10000 -c 8`` (a Python client of 8 threads when ``ab`` is missing), one request per
   connection, after 500 warm-up requests. muletui runs twice, each beside its own uWSGI run:
   with its default parser (the standard library's; httptools is hidden from the stack) and with
   httptools (``muletui[fast]``; skipped when it is not installed).
2. **Request → mule_msg → mule handled.** The same 2 workers and one programmed mule. The app
   sends the request's query string with ``uwsgi.mule_msg(q, 1)``; the mule, blocked in
   ``mule_get_msg()``, notes ``time.monotonic()`` and acknowledges with a loopback datagram to
   the bench. The time runs from just before the bench connects to that monotonic stamp (one
   clock for every process); requests go one at a time, each after the previous one's ack.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import common
from common import (
    Engine,
    Goal,
    Results,
    Stack,
    alternating,
    muletui_engine,
    parse_cpus,
    percentile,
    report,
    uwsgi_engine,
)

WORKERS = 2
CONCURRENCY = 8

HELLO_APP = '''
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Hello World"]
'''

OFFLOAD_APP = '''
import uwsgi

def application(environ, start_response):
    uwsgi.mule_msg(environ["QUERY_STRING"].encode(), 1)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"queued"]
'''

ACK_MULE = '''
"""Takes each message a request sent, and acknowledges it to the bench with its arrival time."""
import socket, time, uwsgi

port = int(open("ack.port").read())
out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
print("BENCH ack-ready", flush=True)
while True:
    message = uwsgi.mule_get_msg()
    handled = time.monotonic()
    out.sendto(message + b" " + repr(handled).encode(), ("127.0.0.1", port))
'''

#: A stand-in for httptools on the stack's path: importing it fails, so muletui's workers take
#: the standard library's parser, its default.
NO_HTTPTOOLS = 'raise ImportError("hidden by the bench: muletui runs its default parser")\n'

REQUESTS_METRIC = "requests/s, 2 workers, {parser}"
PARSERS = ("default parser", "httptools")
MULE_P50 = "request → mule_msg → mule handled p50 (µs)"
MULE_P99 = "request → mule_msg → mule handled p99 (µs)"


@dataclass(frozen=True)
class Plan:
    requests: int  # per ab run
    warm_up: int
    handed: tuple[int, int]  # warm-up and measured request → mule hand-offs


def make_plan(quick: bool) -> Plan:
    return Plan(1000, 200, (30, 200)) if quick else Plan(10_000, 500, (200, 2000))


@dataclass
class Setup:
    workdir: Path
    plan: Plan
    cpus: set[int] | None


def write_scripts(workdir: Path) -> None:
    common.write_scripts(workdir, {"hello.py": HELLO_APP, "offload.py": OFFLOAD_APP, "ack.py": ACK_MULE})
    hidden = workdir / "no-httptools"
    hidden.mkdir(exist_ok=True)
    (hidden / "httptools.py").write_text(NO_HTTPTOOLS)


def _socket_options(engine: Engine) -> list[str]:
    """uWSGI's launch already has its loopback ``--http-socket``; muletui's needs one."""
    options = ["--processes", str(WORKERS)]
    return options if engine.name == "uWSGI" else ["--http-socket", "127.0.0.1:0", *options]


def _default_parser(engine: Engine, workdir: Path) -> Engine:
    """``engine`` with httptools hidden from its stack (muletui only; uWSGI parses in C)."""
    if engine.name == "uWSGI":
        return engine
    env = dict(engine.env)
    env["PYTHONPATH"] = os.pathsep.join([str(workdir / "no-httptools"), env["PYTHONPATH"]])
    return dataclasses.replace(engine, env=env)


def _started(stack: Stack) -> int:
    """Wait for both workers; the port of the stack's HTTP socket."""
    stack.log.wait(rf"spawned uWSGI worker {WORKERS} ", 1, stack.running)
    [bound] = stack.log.matches(r"uwsgi socket 0 bound to TCP address 127\.0\.0\.1:(\d+)")
    return int(bound[1])


# -- requests per second ---------------------------------------------------------------------


def ab(port: int, count: int) -> float:
    """Requests per second of ``ab -n count -c 8`` (a Python client without ab); fails on errors."""
    if shutil.which("ab") is None:
        return python_client(port, count)
    done = subprocess.run(
        ["ab", "-q", "-n", str(count), "-c", str(CONCURRENCY), f"http://127.0.0.1:{port}/"],
        capture_output=True, text=True, timeout=common.PHASE_TIMEOUT, check=False,
    )  # fmt: skip
    rate = re.search(r"Requests per second:\s+([\d.]+)", done.stdout)
    failed = re.search(r"Failed requests:\s+(\d+)", done.stdout)
    if done.returncode or rate is None or failed is None or int(failed[1]) or "Non-2xx" in done.stdout:
        raise RuntimeError(f"ab failed (status {done.returncode}):\n{done.stdout[-1500:]}{done.stderr[-500:]}")
    return float(rate[1])


def _get(port: int, path: str = "/") -> bytes:
    """One HTTP/1.0 GET on a new connection; the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    if not answer.startswith(b"HTTP/1.0 200"):
        raise RuntimeError(f"unexpected answer: {answer[:200]!r}")
    return answer


def python_client(port: int, count: int) -> float:
    """8 threads sending ``count`` requests between them, one per connection; requests/s."""
    errors: list[BaseException] = []

    def client(share: int) -> None:
        try:
            for _ in range(share):
                _get(port)
        except (OSError, RuntimeError) as error:
            errors.append(error)

    threads = [threading.Thread(target=client, args=(count // CONCURRENCY,)) for _ in range(CONCURRENCY)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"the Python client failed: {errors[0]!r}")
    return count // CONCURRENCY * CONCURRENCY / (time.perf_counter() - started)


def measure_requests(engine: Engine, setup: Setup, results: Results, run: int) -> str:
    """Requests/s of the hello-world app, beside muletui with each of its parsers."""
    parts = []
    parsers = PARSERS if importlib.util.find_spec("httptools") else PARSERS[:1]
    for parser in parsers:
        chosen = _default_parser(engine, setup.workdir) if parser == PARSERS[0] else engine
        name = f"requests-{engine.name}-{parser.split()[0]}-{run}"
        with Stack(chosen, [], setup.workdir, name, setup.cpus, app="hello.py", options=_socket_options(engine)) as stack:
            port = _started(stack)
            ab(port, setup.plan.warm_up)
            rate = ab(port, setup.plan.requests)
        results.add(REQUESTS_METRIC.format(parser=parser), engine.name, rate)
        parts.append(f"{parser} {rate:,.0f} req/s")
    return "requests: " + ", ".join(parts)


# -- request → mule_msg → mule handled -------------------------------------------------------


def measure_request_to_mule(engine: Engine, setup: Setup, results: Results, run: int) -> str:
    """Requests one at a time, each handing its number to mule 1; request sent → mule handled."""
    warm_up, measured = setup.plan.handed
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as acks:
        acks.bind(("127.0.0.1", 0))
        acks.settimeout(10)
        (setup.workdir / "ack.port").write_text(str(acks.getsockname()[1]))
        name = f"handoff-{engine.name}-{run}"
        with Stack(engine, ["ack.py"], setup.workdir, name, setup.cpus, app="offload.py",
                   options=_socket_options(engine)) as stack:  # fmt: skip
            port = _started(stack)
            stack.log.wait(r"BENCH ack-ready", 1, stack.running)
            latencies = []
            for number in range(warm_up + measured):
                sent = time.monotonic()
                _get(port, f"/?{number}")
                seq, handled = acks.recv(256).split()
                if int(seq) != number:
                    raise RuntimeError(f"{engine.name}: mule acknowledged {seq!r}, expected {number}")
                if number >= warm_up:
                    latencies.append((float(handled) - sent) * 1e6)
    latencies.sort()
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    results.add(MULE_P50, engine.name, p50)
    results.add(MULE_P99, engine.name, p99)
    return f"request → mule handled p50 {p50:.0f} µs, p99 {p99:.0f} µs"


MEASUREMENTS: dict[str, Callable[[Engine, Setup, Results, int], str]] = {
    "requests": measure_requests,
    "request_to_mule": measure_request_to_mule,
}


def goals() -> dict[str, Goal]:
    """Issue 14's: ≥ 0.4× uWSGI's requests/s by default, ≥ 0.7× with httptools; the hand-off
    to a mule has none (a guide, read with the signal round trip)."""
    return {
        REQUESTS_METRIC.format(parser=PARSERS[0]): Goal(True, 0.4),
        REQUESTS_METRIC.format(parser=PARSERS[1]): Goal(True, 0.7),
        MULE_P50: Goal(False, 1.25),
        MULE_P99: Goal(False, 1.25),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common.add_engine_arguments(parser, "1,000 requests per ab run, 200 hand-offs")
    args = parser.parse_args(argv)
    runs = args.runs or (2 if args.quick else 5)
    common.require_uwsgi(parser, args.uwsgi)
    engines = [uwsgi_engine(args.uwsgi), muletui_engine()]
    results = Results()
    try:
        with tempfile.TemporaryDirectory(prefix="muletui-bench-") as tmp:
            setup = Setup(Path(tmp), make_plan(args.quick), parse_cpus(args.cpus))
            write_scripts(setup.workdir)
            for run, order in alternating(engines, runs):
                for measure in MEASUREMENTS.values():
                    for engine in order:
                        line = measure(engine, setup, results, run)
                        print(f"run {run + 1}/{runs} {engine.name:8} {line}", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print("interrupted; medians of the runs so far:", file=sys.stderr)
    table = {metric: goal for metric, goal in goals().items() if metric in results.values}
    print(report(results, table, engines, runs, [f"load average (1 min) at the end {os.getloadavg()[0]:.2f}"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
