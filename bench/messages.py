"""Messages and stack lifecycle, side by side with real uWSGI (SPEC §5).

Runs the same mule scripts (they only ``import uwsgi``) under both engines, alternating the
engine run by run, and prints the medians with their muletui/uWSGI ratio:

- ``mule_msg`` throughput for 64 B, 1 KiB and 32 KiB messages between two programmed mules;
- message round trip p50 and p99 (mule 1 → mule 2 → mule 1);
- 8 mules ready: launch → the 8th mule's first line;
- SIGINT → the launched process and every descendant gone.

Usage, from the repository root::

    .venv/bin/python bench/messages.py [--runs N] [--quick] [--cpus LIST] [--uwsgi PATH]

Timestamps come from ``time.monotonic()`` (CLOCK_MONOTONIC, shared by every process on the
machine), printed by the mules and parsed from the stack's output. Nothing is written outside
a temporary directory, and every process started is stopped by pid, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

REPO = Path(__file__).resolve().parent.parent
DEFAULT_UWSGI = os.environ.get("UWSGI", "/work/uwsgi-venv/bin/uwsgi")

#: Seconds a stack gets for a whole phase before the run is declared broken.
PHASE_TIMEOUT = 60.0
#: Seconds the sender sleeps after ``mule_msg`` returned ``False`` (a full queue).
BACKOFF = 0.00005
#: Seconds a stack gets to stop after SIGINT before its processes are killed.
STOP_GRACE = 10.0

# -- the mule scripts (identical for both engines) ------------------------------------------

SENDER = '''
"""Mule 1: sends each throughput phase to mule 2, then times round trips through mule 2."""
import json, time, uwsgi

PEER = 2
plan = json.load(open("plan.json"))


def wait_go():
    while uwsgi.mule_get_msg() != b"go":
        pass


def send_all(payload, count, backoff):
    """Send ``count`` messages; a full queue (False, one log line) is retried after ``backoff``."""
    send, sleep, retries = uwsgi.mule_msg, time.sleep, 0
    for _ in range(count):
        while not send(payload, PEER):
            retries += 1
            sleep(backoff)
    return retries


for label, size, count in plan["throughput"]:
    wait_go()
    started = time.monotonic()
    retries = send_all(b"x" * size, count, plan["backoff"])
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
    total = 0
    for _ in range(count):
        total += len(get())
    finished = time.monotonic()
    print(f"BENCH received {label} {size} {count} {finished!r} {total}", flush=True)

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

APP = """
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b""]
"""

# -- engines -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Engine:
    """How to launch a stack of mule scripts under one engine."""

    name: str
    command: Callable[[list[str]], list[str]]
    env: dict[str, str]


def uwsgi_engine(binary: str) -> Engine:
    # uWSGI refuses to start without a socket ("The -s/--socket option is missing"); a
    # loopback HTTP socket on a free port with a trivial app is the smallest stack it accepts.
    def command(mules: list[str]) -> list[str]:
        return [binary, "--master", "--http-socket", "127.0.0.1:0", "--wsgi-file", "app.py"] + [
            f"--mule={mule}" for mule in mules
        ]

    return Engine("uWSGI", command, dict(os.environ))


def muletui_engine() -> Engine:
    def command(mules: list[str]) -> list[str]:
        return [sys.executable, "-m", "muletui", "--headless"] + [f"--mule={mule}" for mule in mules]

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return Engine("muletui", command, env)


# -- processes -----------------------------------------------------------------------------


def alive(pid: int) -> bool:
    """``True`` if ``pid`` exists and is not a zombie (a zombie has finished dying)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid``, from ``/proc/*/task/*/children``."""
    found: list[int] = []
    pending = [pid]
    while pending:
        parent = pending.pop()
        with contextlib.suppress(FileNotFoundError):
            for task in os.listdir(f"/proc/{parent}/task"):
                with contextlib.suppress(FileNotFoundError):
                    with open(f"/proc/{parent}/task/{task}/children") as children:
                        kids = [int(kid) for kid in children.read().split()]
                    found += kids
                    pending += kids
    return found


class LogWatch:
    """Reads a stack's output file as it grows and waits for lines matching a pattern.

    It polls every 20 ms and scans only the new lines, so the bench itself takes next to no
    CPU from the stack it measures (a phase can log thousands of "QUEUE IS FULL" lines).
    """

    POLL = 0.02

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: list[str] = []
        self._offset = 0
        self._partial = b""

    def _read(self) -> None:
        with open(self.path, "rb") as log:
            log.seek(self._offset)
            chunk = log.read()
        self._offset += len(chunk)
        *complete, self._partial = (self._partial + chunk).split(b"\n")
        self.lines += [line.decode("utf-8", "replace") for line in complete]

    def matches(self, pattern: str) -> list[re.Match[str]]:
        regex = re.compile(pattern)
        return [match for line in self.lines if (match := regex.search(line))]

    def wait(self, pattern: str, count: int, alive_check: Callable[[], bool]) -> list[re.Match[str]]:
        """Wait until ``count`` lines match; raise with the log's tail on timeout or early exit."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + PHASE_TIMEOUT
        found: list[re.Match[str]] = []
        scanned = 0
        while True:
            self._read()
            found += [match for line in self.lines[scanned:] if (match := regex.search(line))]
            scanned = len(self.lines)
            if len(found) >= count:
                return found
            if not alive_check():
                raise RuntimeError(f"the stack exited while waiting for /{pattern}/\n{self.tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {count}× /{pattern}/\n{self.tail()}")
            time.sleep(self.POLL)

    def tail(self, count: int = 30) -> str:
        return "\n".join("    " + line for line in self.lines[-count:])


class Stack:
    """One launched stack; leaving the ``with`` block stops it and every descendant, by pid."""

    def __init__(
        self, engine: Engine, mules: list[str], workdir: Path, name: str, cpus: set[int] | None = None
    ) -> None:
        self.engine = engine
        self._cpus = cpus
        self.log = LogWatch(workdir / f"{name}.log")
        self._argv = engine.command(mules)
        self._workdir = workdir
        self._process: subprocess.Popen[bytes] | None = None
        self._known: set[int] = set()
        self.launched = 0.0

    def __enter__(self) -> Self:
        own_cpus = os.sched_getaffinity(0)
        if self._cpus is not None:
            os.sched_setaffinity(0, self._cpus)  # inherited by the stack and all it forks
        try:
            with open(self.log.path, "wb") as out:
                self.launched = time.monotonic()
                # A new session keeps the terminal's Ctrl-C away from the stack: the bench
                # stops it itself, in order, and measures that.
                self._process = subprocess.Popen(
                    self._argv,
                    cwd=self._workdir,
                    env=self.engine.env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        finally:
            os.sched_setaffinity(0, own_cpus)
        return self

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def running(self) -> bool:
        assert self._process is not None
        return self._process.poll() is None

    def tree(self) -> list[int]:
        """The launched process and its live descendants; remembered for the final cleanup."""
        pids = [self.pid, *descendants(self.pid)]
        self._known.update(pids)
        return pids

    def stop(self) -> float:
        """SIGINT the launched process; seconds until it and all its descendants are gone."""
        assert self._process is not None
        pids = self.tree()
        started = time.monotonic()
        self._process.send_signal(signal.SIGINT)
        deadline = started + STOP_GRACE
        while time.monotonic() < deadline:
            self._process.poll()  # reaps it, so it stops being a zombie we would wait for
            pids = [pid for pid in pids if alive(pid)]
            if not pids:
                return time.monotonic() - started
            time.sleep(0.0005)
        raise RuntimeError(f"{self.engine.name}: still alive {STOP_GRACE:.0f} s after SIGINT: {pids}")

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        # A Ctrl-C during the cleanup must not cut it short: it is held until the end.
        held: list[int] = []
        previous = signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
        try:
            self._cleanup()
        finally:
            signal.signal(signal.SIGINT, previous)
        if held and kind is None and previous is signal.default_int_handler:
            raise KeyboardInterrupt

    def _cleanup(self) -> None:
        if self._process is None:
            return
        if self.running():
            with contextlib.suppress(RuntimeError):
                self.stop()
        for pid in self._known:
            if alive(pid) and pid != self.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        if self.running():
            self._process.kill()
        self._process.wait()


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
class Results:
    """Every measured value, per metric and per engine, in run order."""

    values: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    full: dict[str, dict[str, list[int]]] = field(default_factory=dict)  # False returns, per phase

    def add(self, metric: str, engine: str, value: float) -> None:
        self.values.setdefault(metric, {}).setdefault(engine, []).append(value)

    def median(self, metric: str, engine: str) -> float | None:
        values = self.values.get(metric, {}).get(engine)
        return statistics.median(values) if values else None


def throughput_metric(label: str) -> str:
    return f"mule_msg {label} (msg/s)"


def measure_messages(engine: Engine, setup: Setup, results: Results, run: int) -> str:
    """One stack with a sender and a receiver mule: every throughput phase, then round trips."""
    plan = setup.plan
    (setup.workdir / "plan.json").write_text(json.dumps(plan.__dict__))
    name = f"messages-{engine.name}-{run}"
    with Stack(engine, ["sender.py", "receiver.py"], setup.workdir, name, setup.cpus) as stack:
        log = stack.log
        log.wait(r"BENCH rtt ", 1, stack.running)
        sent = {m[1]: m for m in log.matches(r"BENCH sent (\S+) (\d+) (\d+) (\S+) (\d+)")}
        received = {m[1]: m for m in log.matches(r"BENCH received (\S+) (\d+) (\d+) (\S+) (\d+)")}
        rtt = log.matches(r"BENCH rtt (\d+) (\S+) (\S+)")[0]
    summary = []
    for label, size, count in plan.throughput:
        if label == "warm-up":
            continue
        if int(received[label][5]) != size * count:
            raise RuntimeError(f"{engine.name} {label}: received {received[label][5]} bytes")
        rate = count / (float(received[label][4]) - float(sent[label][4]))
        results.add(throughput_metric(label), engine.name, rate)
        results.full.setdefault(label, {}).setdefault(engine.name, []).append(int(sent[label][5]))
        summary.append(f"{label} {rate / 1000:.0f}k/s ({sent[label][5]} full)")
    results.add("round trip p50 (µs)", engine.name, float(rtt[2]))
    results.add("round trip p99 (µs)", engine.name, float(rtt[3]))
    summary.append(f"round trip p50 {rtt[2]} µs p99 {rtt[3]} µs")
    return ", ".join(summary)


def measure_lifecycle(engine: Engine, setup: Setup, results: Results, run: int) -> str:
    """One stack of ``setup.mules`` mules: launch → last mule ready, then SIGINT → tree gone."""
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
    results.add(f"{mules} mules ready (s)", engine.name, ready_after)
    results.add("SIGINT → tree gone (s)", engine.name, gone_after)
    return f"{mules} mules ready {ready_after:.3f} s, gone {gone_after:.3f} s after SIGINT"


# -- report --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Goal:
    """SPEC §5's goal for one metric: a same-session ratio, or an absolute bound on muletui."""

    higher_is_better: bool
    ratio: float = 1.0  # muletui/uWSGI must be ≥ this (higher is better) or ≤ this (lower is better)
    bound: float | None = None  # if set, the goal is instead: muletui's median ≤ bound

    def text(self) -> str:
        if self.bound is not None:
            return f"≤ {self.bound:g} s"
        return f"{'≥' if self.higher_is_better else '≤'} {self.ratio:.2f}×"

    def verdict(self, muletui: float, ratio: float) -> str:
        """``ok``, ``miss``, or ``noise`` when a ratio goal is missed by less than SPEC's ~20 %."""
        if self.bound is not None:
            return "ok" if muletui <= self.bound else "miss"
        if (ratio >= self.ratio) if self.higher_is_better else (ratio <= self.ratio):
            return "ok"
        near = (ratio >= self.ratio * 0.8) if self.higher_is_better else (ratio <= self.ratio * 1.2)
        return "noise" if near else "miss"


def goals(mules: int) -> dict[str, Goal]:
    table = {throughput_metric(label): Goal(True) for label in ("64B", "1KiB", "32KiB")}
    table["round trip p50 (µs)"] = Goal(False)
    table["round trip p99 (µs)"] = Goal(False)  # SPEC names the p50; the p99 gets the same goal
    table[f"{mules} mules ready (s)"] = Goal(False, bound=0.3)
    table["SIGINT → tree gone (s)"] = Goal(False, bound=0.3)
    return table


def _format(value: float | None) -> str:
    if value is None:
        return "—"
    if value >= 10_000:
        return f"{value / 1000:.1f}k"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3f}"


def report(results: Results, table: dict[str, Goal], engines: list[Engine], runs: int) -> str:
    """The medians table; the ratio is always muletui/uWSGI, ``better`` says which way is good."""
    reference, candidate = engines[0].name, engines[1].name
    header = ["metric", f"{reference} median", f"{candidate} median", "muletui/uWSGI", "better", "goal", ""]
    rows = [header]
    for metric, goal in table.items():
        ref, cand = results.median(metric, reference), results.median(metric, candidate)
        ratio = cand / ref if ref and cand is not None else None
        rows.append(
            [
                metric,
                _format(ref),
                _format(cand),
                "—" if ratio is None else f"{ratio:.2f}×",
                "higher" if goal.higher_is_better else "lower",
                goal.text(),
                "" if ratio is None or cand is None else goal.verdict(cand, ratio),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    full = [
        f"{label}: mule_msg returned False (queue full) {statistics.median(counts):.0f}× (median) "
        f"under {engine}"
        for label, per_engine in results.full.items()
        for engine, counts in per_engine.items()
    ]
    return "\n".join(
        [f"medians of the runs measured ({runs} planned per engine, alternating)", *lines, "", *full]
    )


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
    for name, text in {
        "sender.py": SENDER,
        "receiver.py": RECEIVER,
        "ready.py": READY,
        "app.py": APP,
    }.items():
        (workdir / name).write_text(textwrap.dedent(text).lstrip())


def alternating(engines: list[Engine], runs: int) -> Iterator[tuple[int, list[Engine]]]:
    """Run ``i`` lists the engines in order, run ``i + 1`` reversed, so neither always goes first."""
    for run in range(runs):
        yield run, engines if run % 2 == 0 else engines[::-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, help="runs per engine (default 5, 2 with --quick)")
    parser.add_argument("--quick", action="store_true", help="fewer runs and messages, for a first look")
    parser.add_argument("--uwsgi", default=DEFAULT_UWSGI, help=f"the uwsgi binary (default {DEFAULT_UWSGI})")
    parser.add_argument(
        "--backoff",
        type=float,
        default=BACKOFF,
        help=f"sender's sleep after a full queue, s (default {BACKOFF})",
    )
    parser.add_argument("--mules", type=int, default=8, help="mules of the start-up measurement (default 8)")
    parser.add_argument(
        "--cpus", help="pin both stacks to these CPUs, e.g. 0 or 0,1 (default: unpinned, as in SPEC §5)"
    )
    args = parser.parse_args(argv)
    runs = args.runs or (2 if args.quick else 5)
    if not os.access(args.uwsgi, os.X_OK):
        parser.error(f"no uwsgi binary at {args.uwsgi} (use --uwsgi PATH or $UWSGI)")
    cpus = {int(cpu) for cpu in args.cpus.split(",")} if args.cpus else None
    engines = [uwsgi_engine(args.uwsgi), muletui_engine()]
    results = Results()
    try:
        with tempfile.TemporaryDirectory(prefix="muletui-bench-") as tmp:
            setup = Setup(Path(tmp), make_plan(args.quick, args.backoff), args.mules, cpus)
            write_scripts(setup.workdir)
            for run, order in alternating(engines, runs):
                for measure in (measure_messages, measure_lifecycle):
                    for engine in order:
                        line = measure(engine, setup, results, run)
                        print(f"run {run + 1}/{runs} {engine.name:8} {line}", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print("interrupted; medians of the runs so far:", file=sys.stderr)
    print(report(results, goals(args.mules), engines, runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
