"""Messages and stack lifecycle, side by side with real uWSGI (SPEC §5).

Runs the same mule scripts and apps (they only ``import uwsgi`` and ``uwsgidecorators``) under both engines, alternating the
engine run by run, and prints the medians with their muletui/uWSGI ratio:

- ``mule_msg`` throughput for 64 B, 1 KiB and 32 KiB messages between two programmed mules;
- message round trip p50 and p99 (mule 1 → mule 2 → mule 1);
- start-up: exec of the command → all of 4 programmed + 4 signal-mode mules running their code
  (issue 15's scenario: a programmed mule's script prints at its top, a signal-mode mule runs
  the app's ``@postfork``, which both engines run in every mule right after its fork);
- 8 programmed mules, no app for muletui: launch → the 8th mule's first line;
- SIGINT → the launched process and every descendant gone.

Usage, from the repository root::

    .venv/bin/python bench/messages.py [--runs N] [--quick] [--cpus LIST] [--uwsgi PATH] [--only NAME]

Timestamps come from ``time.monotonic()`` (CLOCK_MONOTONIC, shared by every process on the
machine), printed by the mules and parsed from the stack's output. Nothing is written outside
a temporary directory, and every process started is stopped by pid, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import common
from common import (
    APP,
    Engine,
    Goal,
    Results,
    Stack,
    alternating,
    muletui_engine,
    parse_cpus,
    report,
    uwsgi_engine,
)

#: Seconds the sender sleeps after ``mule_msg`` returned ``False`` (a full queue).
BACKOFF = 0.00005

# -- the mule scripts (identical for both engines) ------------------------------------------

SENDER = '''
"""Mule 1: sends each throughput phase to mule 2, then times round trips through mule 2."""
import json, time, uwsgi

PEER = 2
plan = json.load(open("plan.json"))


def wait_go():
    while uwsgi.mule_get_msg() != b"go":
        pass


def send_all(size, count, backoff):
    """Send ``count`` messages, each starting with its sequence number (8 bytes, little-endian);
    a full queue (False, one log line) is retried after ``backoff``."""
    send, sleep, retries, tail = uwsgi.mule_msg, time.sleep, 0, b"x" * (size - 8)
    for seq in range(count):
        payload = seq.to_bytes(8, "little") + tail
        while not send(payload, PEER):
            retries += 1
            sleep(backoff)
    return retries


for label, size, count in plan["throughput"]:
    wait_go()
    started = time.monotonic()
    retries = send_all(size, count, plan["backoff"])
    print(f"BENCH sent {label} {size} {count} {started!r} {retries}", flush=True)

wait_go()
payload, clock, send, get = b"r" * 64, time.perf_counter_ns, uwsgi.mule_msg, uwsgi.mule_get_msg
warmup, count = plan["round_trip"]
samples = []
for _ in range(warmup + count):
    t0 = clock()
    if not send(payload, PEER) or get() != payload:
        raise SystemExit("round trip lost a message")
    samples.append(clock() - t0)
send(b"stop", PEER)
samples = sorted(samples[warmup:])
p50 = samples[len(samples) // 2] / 1000
p99 = samples[min(len(samples) - 1, len(samples) * 99 // 100)] / 1000
print(f"BENCH rtt {count} {p50:.1f} {p99:.1f}", flush=True)
while True:  # a programmed mule that returns is respawned: park until the stack stops
    uwsgi.mule_get_msg()
'''

RECEIVER = '''
"""Mule 2: receives each throughput phase, then echoes round-trip messages back to mule 1."""
import json, time, uwsgi

PEER = 1
plan = json.load(open("plan.json"))
get = uwsgi.mule_get_msg

for label, size, count in plan["throughput"]:
    uwsgi.mule_msg(b"go", PEER)
    total = errors = 0
    for seq in range(count):  # every accepted message arrives, in order: check its number
        message = get()
        total += len(message)
        if message[:8] != seq.to_bytes(8, "little"):
            errors += 1
    finished = time.monotonic()
    print(f"BENCH received {label} {size} {count} {finished!r} {total} {errors}", flush=True)

uwsgi.mule_msg(b"go", PEER)
while (message := get()) != b"stop":
    uwsgi.mule_msg(message, PEER)
while True:
    get()
'''

READY = '''
"""One of the 8 mules of the start-up and shutdown measurement."""
import os, time, uwsgi

print(f"BENCH ready {uwsgi.mule_id()} {time.monotonic()!r} {os.getpid()}", flush=True)
while True:
    uwsgi.mule_get_msg()
'''

#: The start-up scenario's mules: this many programmed ``--mule=first.py``, then as many
#: signal-mode ``--mule`` (mule ids 1..N programmed, N+1..2N signal-mode).
STARTUP_MULES = 4
STARTUP_METRIC = f"start-up: exec → {STARTUP_MULES} programmed + {STARTUP_MULES} signal-mode mules running (s)"

FIRST_LINE = '''
"""A programmed mule of the start-up measurement: its first line stamps the time."""
import os, time, uwsgi

print(f"BENCH first script {uwsgi.mule_id()} {time.monotonic()!r} {os.getpid()}", flush=True)
while True:
    uwsgi.mule_get_msg()
'''

STARTUP_APP = '''
"""The start-up measurement's app: its ``@postfork`` is the first code of the user's that a
signal-mode mule runs (both engines run it in every worker and mule right after the fork)."""
import os, time, uwsgi
from uwsgidecorators import postfork


@postfork
def first_line():
    if uwsgi.mule_id():  # not uWSGI's worker
        print(f"BENCH first postfork {uwsgi.mule_id()} {time.monotonic()!r} {os.getpid()}", flush=True)


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b""]
'''

# -- measurements --------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What the mules do; written to ``plan.json`` where both mule scripts read it."""

    throughput: list[tuple[str, int, int]]  # (label without spaces, message size, count)
    round_trip: tuple[int, int]  # (warm-up, measured)
    backoff: float  # seconds the sender sleeps after a False from mule_msg


@dataclass(frozen=True)
class Setup:
    """Everything a measurement needs besides the engine."""

    workdir: Path
    plan: Plan
    mules: int  # mules of the start-up and shutdown measurement
    cpus: set[int] | None  # pin every stack process to these CPUs; None: unpinned (SPEC)


@dataclass
class MessageResults(Results):
    """The medians' values, and how often ``mule_msg`` returned ``False`` in each phase."""

    full: dict[str, dict[str, list[int]]] = field(default_factory=dict)


def throughput_metric(label: str) -> str:
    return f"mule_msg {label} (msg/s)"


def measure_messages(engine: Engine, setup: Setup, results: MessageResults, run: int) -> str:
    """One stack with a sender and a receiver mule: every throughput phase, then round trips."""
    plan = setup.plan
    (setup.workdir / "plan.json").write_text(json.dumps(plan.__dict__))
    name = f"messages-{engine.name}-{run}"
    with Stack(engine, ["sender.py", "receiver.py"], setup.workdir, name, setup.cpus) as stack:
        log = stack.log
        log.wait(r"BENCH rtt ", 1, stack.running)
        sent = {m[1]: m for m in log.matches(r"BENCH sent (\S+) (\d+) (\d+) (\S+) (\d+)")}
        received = {m[1]: m for m in log.matches(r"BENCH received (\S+) (\d+) (\d+) (\S+) (\d+) (\d+)")}
        rtt = log.matches(r"BENCH rtt (\d+) (\S+) (\S+)")[0]
    summary = []
    for label, size, count in plan.throughput:
        if label == "warm-up":
            continue
        if int(received[label][5]) != size * count or int(received[label][6]):
            raise RuntimeError(
                f"{engine.name} {label}: received {received[label][5]} bytes of {size * count}, "
                f"{received[label][6]} messages out of sequence (lost, duplicated or reordered)"
            )
        rate = count / (float(received[label][4]) - float(sent[label][4]))
        results.add(throughput_metric(label), engine.name, rate)
        results.full.setdefault(label, {}).setdefault(engine.name, []).append(int(sent[label][5]))
        summary.append(f"{label} {rate / 1000:.0f}k/s ({sent[label][5]} full)")
    results.add("round trip p50 (µs)", engine.name, float(rtt[2]))
    results.add("round trip p99 (µs)", engine.name, float(rtt[3]))
    summary.append(f"round trip p50 {rtt[2]} µs p99 {rtt[3]} µs")
    return ", ".join(summary)


def measure_startup(engine: Engine, setup: Setup, results: MessageResults, run: int) -> str:
    """Issue 15's start-up: from the bench's stamp just before exec to the last mule's first line
    of its own code: the top of its script (programmed mules), the app's ``@postfork`` (signal-mode
    mules, where the postfork is all the user code that runs at start)."""
    mules = ["first.py"] * STARTUP_MULES + [""] * STARTUP_MULES
    name = f"startup-{engine.name}-{run}"
    with Stack(engine, mules, setup.workdir, name, setup.cpus, app="startup_app.py") as stack:
        pattern = r"BENCH first (script|postfork) (\d+) (\S+) (\d+)"
        stack.log.wait(pattern, 2 * STARTUP_MULES + STARTUP_MULES, stack.running)  # programmed mules run both
        first: dict[int, float] = {}
        for match in stack.log.matches(pattern):
            mule_id = int(match[2])
            if (match[1] == "script") == (mule_id <= STARTUP_MULES):
                first[mule_id] = float(match[3])
        missing = {int(match[4]) for match in stack.log.matches(pattern)} - set(stack.tree())
        if missing:
            raise RuntimeError(f"{engine.name}: mule pids {missing} are not in the launched tree")
    if sorted(first) != list(range(1, 2 * STARTUP_MULES + 1)):
        raise RuntimeError(f"{engine.name}: first lines of mules {sorted(first)} only\n{stack.log.tail()}")
    started = max(first.values()) - stack.launched
    results.add(STARTUP_METRIC, engine.name, started)
    return f"start-up {started:.3f} s (mule {max(first, key=first.__getitem__)} last)"


def ready_metric(mules: int) -> str:
    return f"{mules} programmed mules, no app (muletui): launch → last first line (s)"


def measure_lifecycle(engine: Engine, setup: Setup, results: MessageResults, run: int) -> str:
    """One stack of ``setup.mules`` programmed mules (muletui without an app, uWSGI with the
    smallest one it accepts): launch → last mule ready, then SIGINT → tree gone."""
    mules = setup.mules
    name = f"lifecycle-{engine.name}-{run}"
    with Stack(engine, ["ready.py"] * mules, setup.workdir, name, setup.cpus) as stack:
        ready = stack.log.wait(r"BENCH ready (\d+) (\S+) (\d+)", mules, stack.running)
        ready_after = max(float(match[2]) for match in ready) - stack.launched
        time.sleep(0.2)  # let the stack settle (uWSGI's worker, muletui's first stats sample)
        missing = {int(match[3]) for match in ready} - set(stack.tree())
        if missing:
            raise RuntimeError(f"{engine.name}: mule pids {missing} are not in the launched tree")
        gone_after = stack.stop()
    results.add(ready_metric(mules), engine.name, ready_after)
    results.add("SIGINT → tree gone (s)", engine.name, gone_after)
    return f"{mules} mules ready {ready_after:.3f} s, gone {gone_after:.3f} s after SIGINT"


MEASUREMENTS = {"messages": measure_messages, "startup": measure_startup, "lifecycle": measure_lifecycle}

# -- report --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoundAndRatio(Goal):
    """A goal with both parts: muletui's median within ``bound`` and the ratio within ``ratio``."""

    def text(self) -> str:
        return f"≤ {self.bound:g} {self.unit}, ≤ {self.ratio:.2f}×"

    def verdict(self, muletui: float, ratio: float | None) -> str:
        within = Goal(self.higher_is_better, bound=self.bound, unit=self.unit).verdict(muletui, ratio)
        return within if within != "ok" else Goal(self.higher_is_better, ratio=self.ratio).verdict(muletui, ratio)


def goals(mules: int) -> dict[str, Goal]:
    table = {throughput_metric(label): Goal(True) for label in ("64B", "1KiB", "32KiB")}
    table["round trip p50 (µs)"] = Goal(False)
    table["round trip p99 (µs)"] = Goal(False)  # SPEC names the p50; the p99 gets the same goal
    table[STARTUP_METRIC] = BoundAndRatio(False, ratio=2.0, bound=0.3)
    table[ready_metric(mules)] = Goal(False, bound=0.3)
    table["SIGINT → tree gone (s)"] = Goal(False, bound=0.3)
    return table


def queue_full_notes(results: MessageResults) -> list[str]:
    return [
        f"{label}: mule_msg returned False (queue full) {statistics.median(counts):.0f}× (median) "
        f"under {engine}"
        for label, per_engine in results.full.items()
        for engine, counts in per_engine.items()
    ]


# -- main ----------------------------------------------------------------------------------


def make_plan(quick: bool, backoff: float) -> Plan:
    # Counts chosen so one phase takes ~0.5-1 s at the rates uWSGI reached on these VMs (up
    # to ~850k / 630k / 45-90k msg/s; at SPEC's slower session's 215k / 180k / 43k a phase
    # takes ~2 s); --quick divides them by 4.
    scale = 4 if quick else 1
    return Plan(
        throughput=[
            ("warm-up", 64, 40_000 // scale),
            ("64B", 64, 400_000 // scale),
            ("1KiB", 1024, 350_000 // scale),
            ("32KiB", 32768, 40_000 // scale),
        ],
        round_trip=(1000, 10_000 // scale),
        backoff=backoff,
    )


def write_scripts(workdir: Path) -> None:
    scripts = {"sender.py": SENDER, "receiver.py": RECEIVER, "ready.py": READY, "app.py": APP}
    common.write_scripts(workdir, {**scripts, "first.py": FIRST_LINE, "startup_app.py": STARTUP_APP})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common.add_engine_arguments(parser, "fewer runs and messages, for a first look")
    parser.add_argument(
        "--backoff",
        type=float,
        default=BACKOFF,
        help=f"sender's sleep after a full queue, s (default {BACKOFF})",
    )
    parser.add_argument("--mules", type=int, default=8, help="mules of the lifecycle measurement (default 8)")
    parser.add_argument(
        "--only", choices=sorted(MEASUREMENTS), action="append", help="run only this measurement (repeatable)"
    )
    args = parser.parse_args(argv)
    runs = args.runs or (2 if args.quick else 5)
    common.require_uwsgi(parser, args.uwsgi)
    cpus = parse_cpus(args.cpus)
    engines = [uwsgi_engine(args.uwsgi), muletui_engine()]
    results = MessageResults()
    try:
        with tempfile.TemporaryDirectory(prefix="muletui-bench-") as tmp:
            setup = Setup(Path(tmp), make_plan(args.quick, args.backoff), args.mules, cpus)
            write_scripts(setup.workdir)
            for run, order in alternating(engines, runs):
                for measure in (MEASUREMENTS[name] for name in args.only or MEASUREMENTS):
                    for engine in order:
                        line = measure(engine, setup, results, run)
                        print(f"run {run + 1}/{runs} {engine.name:8} {line}", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print("interrupted; medians of the runs so far:", file=sys.stderr)
    print(report(results, goals(args.mules), engines, runs, queue_full_notes(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
