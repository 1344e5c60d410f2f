"""Signals, file monitors, timers and locks, side by side with real uWSGI (SPEC §5).

Runs the same scripts (they only ``import uwsgi``) under both engines, alternating the engine
run by run, and prints the medians with their muletui/uWSGI ratio:

- signal round trip p50 and p99: mule 1 raises a signal routed to signal-mode mule 2, whose
  handler sends a message back (mule 1 → master → mule 2 → mule 1);
- fan-out p50 and p99: mule 1 raises a signal for target ``mules`` (mule 1 and 8 signal-mode
  mules); the time until all 8 handlers have acked with ``mule_msg(b"<their id>", 1)``, each
  ack checked (mule 1's own copy is taken between raises, outside the timing);
- file monitor: touch a file in a watched directory → the handler runs, p50;
- the master's CPU while idle (a file monitor armed, a 1 s timer firing);
- timer error: how far a 1 s timer's fires stray from a perfect 1 s grid, max and median;
- lock contention: 4 programmed mules taking and releasing one lock, cycles/s, and the acquire
  wait (before ``lock(1)`` → after it returns) p99 of the worst mule (the max of each mule's p99).

Usage, from the repository root::

    .venv/bin/python bench/signals.py [--runs N] [--quick] [--cpus LIST] [--only LIST] [--uwsgi PATH]

Timestamps come from ``time.monotonic()`` (CLOCK_MONOTONIC, shared by every process on the
machine), printed by the handlers and parsed from the stack's output; round trips are timed
inside the mule with ``perf_counter_ns``. Nothing is written outside a temporary directory,
and every process started is stopped by pid, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
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
    cpu_seconds,
    descendants,
    muletui_engine,
    parse_cpus,
    report,
    uwsgi_engine,
)

ROUND_TRIP_SIGNAL = 17
FAN_OUT_SIGNAL = 18
FILE_MONITOR_SIGNAL = 19
TIMER_SIGNAL = 20
LOCKERS = 4

# -- the scripts (identical for both engines) ----------------------------------------------

SIGNALS_APP = '''
"""Imported once by the master, before the mules fork: the two signals the driver raises."""
import json, uwsgi

plan = json.load(open("signals.json"))
DRIVER = 1


def answer(signum):
    """Round trip: signal-mode mule 2 answers the driver."""
    uwsgi.mule_msg(b"x", DRIVER)


def ack_fan_out(signum):
    """Fan-out: every mule gets the signal; each signal-mode one acks to the driver, mule 1,
    with its own id (the driver checks that each of them acked)."""
    me = uwsgi.mule_id()
    if me != DRIVER:
        uwsgi.mule_msg(b"%d" % me, DRIVER)


uwsgi.register_signal(plan["round_trip_signal"], "mule2", answer)
uwsgi.register_signal(plan["fan_out_signal"], "mules", ack_fan_out)


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b""]
'''

DRIVER = '''
"""Mule 1: raises the phase's signal, waits for every answer, and times that."""
import json, time, uwsgi

plan = json.load(open("signals.json"))
phase = plan["phases"][plan["phase"]]
signum, warmup, count = phase["signal"], phase["warmup"], phase["count"]
acks = {ack.encode() for ack in phase["acks"]}  # one per answering mule
answers = len(acks)
time.sleep(plan["settle"])  # let the rest of the stack finish starting

clock, raise_signal, get = time.perf_counter_ns, uwsgi.signal, uwsgi.mule_get_msg
samples = []
for _ in range(warmup + count):
    t0 = clock()
    raise_signal(signum)
    got = {get() for _ in range(answers)}
    samples.append(clock() - t0)
    if got != acks:
        raise SystemExit(f"unexpected answers {sorted(got)}")
    # "mules" includes this mule: take its copy (the handler does nothing here), or its
    # signal socket fills up and both masters log two lines per raise.
    while phase["drain"] and get(signals=False, timeout=0) is None:
        pass
samples = sorted(samples[warmup:])
p50 = samples[len(samples) // 2] / 1000
p99 = samples[min(len(samples) - 1, len(samples) * 99 // 100)] / 1000
print(f"BENCH signals {plan['phase']} {count} {p50:.1f} {p99:.1f}", flush=True)
while True:  # a programmed mule that returns is respawned: park until the stack stops
    get()
'''

SCHEDULES_APP = '''
"""Imported once by the master: a file monitor for mule 1 and a 1 s timer for mule 2."""
import json, time, uwsgi

plan = json.load(open("schedules.json"))


def touched(signum):
    print(f"BENCH filemon {time.monotonic()!r}", flush=True)


def tick(signum):
    print(f"BENCH tick {time.monotonic()!r}", flush=True)


uwsgi.register_signal(plan["file_monitor_signal"], "mule1", touched)
uwsgi.add_file_monitor(plan["file_monitor_signal"], plan["watched"])
uwsgi.register_signal(plan["timer_signal"], "mule2", tick)
uwsgi.add_timer(plan["timer_signal"], 1)


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b""]
'''

LOCKER = '''
"""One of the contending mules: from the shared start time, lock(1)/unlock(1) for the duration,
timing each lock(1) call (its acquire wait); prints its cycles and the p99 of its waits."""
import json, os, time, uwsgi

me = uwsgi.mule_id()
go = json.load(open("locks.json"))["go"]
print(f"BENCH lock-ready {me}", flush=True)
while not os.path.exists(go):
    time.sleep(0.005)
plan = json.load(open(go))
now, clock, lock, unlock = time.monotonic, time.perf_counter_ns, uwsgi.lock, uwsgi.unlock
start, end = plan["start"], plan["start"] + plan["duration"]
waits = []
record = waits.append
time.sleep(max(0.0, start - now()))
while now() < end:
    t0 = clock()
    lock(1)
    record(clock() - t0)
    unlock(1)
waits.sort()
p99 = waits[min(len(waits) - 1, len(waits) * 99 // 100)] / 1e6 if waits else 0.0
longest = waits[-1] / 1e6 if waits else 0.0
print(f"BENCH locked {me} {len(waits)} {now()!r} {p99:.4f} {longest:.3f}", flush=True)
while True:
    uwsgi.mule_get_msg()
'''

# -- measurements --------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """How much each measurement does."""

    round_trip: tuple[int, int]  # (warm-up, measured) signal round trips
    fan_out: tuple[int, int]  # (warm-up, measured) fan-outs
    fan_out_mules: int  # signal-mode mules answering a fan-out
    touches: int  # measured touches of the watched file
    touch_spacing: float  # seconds between touches
    timer_seconds: float  # how long the timer (and the idle master) is watched
    lock_seconds: float  # how long the mules contend for the lock
    settle: float = 0.3  # seconds the driver waits before its first raise


@dataclass(frozen=True)
class Setup:
    """Everything a measurement needs besides the engine."""

    workdir: Path
    plan: Plan
    cpus: set[int] | None  # pin every stack process to these CPUs; None: unpinned (SPEC)


@dataclass
class SignalResults(Results):
    """The medians' values, and what went astray (for the notes under the table)."""

    astray: dict[str, dict[str, list[int]]] = field(default_factory=dict)

    def count(self, what: str, engine: str, value: int) -> None:
        self.astray.setdefault(what, {}).setdefault(engine, []).append(value)


def signal_metrics(phase: str, mules: int) -> tuple[str, str]:
    label = "signal round trip" if phase == "round_trip" else f"fan-out raise → {mules} mules acked"
    return f"{label} p50 (µs)", f"{label} p99 (µs)"


def measure_signal_phase(phase: str, engine: Engine, setup: Setup, results: SignalResults, run: int) -> str:
    """One stack: driver mule 1 and signal-mode mules; the driver times raise → last ack."""
    plan = setup.plan
    answers = 1 if phase == "round_trip" else plan.fan_out_mules
    acks = ["x"] if phase == "round_trip" else [str(mule) for mule in range(2, answers + 2)]
    warmup, count = plan.round_trip if phase == "round_trip" else plan.fan_out
    phases = {
        phase: {
            "signal": ROUND_TRIP_SIGNAL if phase == "round_trip" else FAN_OUT_SIGNAL,
            "acks": acks,
            "warmup": warmup,
            "count": count,
            "drain": phase == "fan_out",
        }
    }
    config = {
        "round_trip_signal": ROUND_TRIP_SIGNAL,
        "fan_out_signal": FAN_OUT_SIGNAL,
        "phase": phase,
        "phases": phases,
        "settle": plan.settle,
    }
    (setup.workdir / "signals.json").write_text(json.dumps(config))
    mules = ["driver.py"] + [""] * answers
    name = f"{phase}-{engine.name}-{run}"
    with Stack(engine, mules, setup.workdir, name, setup.cpus, app="signals_app.py") as stack:
        match = stack.log.wait(rf"BENCH signals {phase} (\d+) (\S+) (\S+)", 1, stack.running)[0]
        queue_full = len(stack.log.matches(r"SIGNAL QUEUE IS FULL|could not deliver"))
    p50_metric, p99_metric = signal_metrics(phase, plan.fan_out_mules)
    results.add(p50_metric, engine.name, float(match[2]))
    results.add(p99_metric, engine.name, float(match[3]))
    results.count(f"{phase}: signal-queue-full lines", engine.name, queue_full)
    return f"{p50_metric.split(' p50')[0]} p50 {match[2]} µs p99 {match[3]} µs"


def measure_round_trip(engine: Engine, setup: Setup, results: SignalResults, run: int) -> str:
    return measure_signal_phase("round_trip", engine, setup, results, run)


def measure_fan_out(engine: Engine, setup: Setup, results: SignalResults, run: int) -> str:
    return measure_signal_phase("fan_out", engine, setup, results, run)


FILE_MONITOR_METRIC = "file monitor touch → handler p50 (ms)"
IDLE_METRIC = "master CPU while idle (% of a core)"
TIMER_MAX_METRIC = "timer error max (ms)"
TIMER_MEDIAN_METRIC = "timer error median (ms)"
LOCK_METRIC = f"{LOCKERS}-mule lock contention (cycles/s)"
LOCK_WAIT_METRIC = f"{LOCKERS} mules contending for one lock: acquire wait p99 of the worst mule (ms)"


def touch_latencies(touches: list[float], fires: list[float]) -> tuple[list[float], int, int]:
    """Each touch's first fire after it (seconds), touches without a fire, fires beyond the first."""
    first: dict[int, float] = {}
    extra = 0
    for fire in fires:
        index = bisect.bisect_right(touches, fire) - 1
        if index < 0:
            extra += 1  # a late fire of the warm-up
        elif index in first:
            extra += 1
        else:
            first[index] = fire - touches[index]
    return [first[index] for index in sorted(first)], len(touches) - len(first), extra


def timer_errors(ticks: list[float]) -> list[float]:
    """|deviation| of each fire from the 1 s grid anchored at the first one (s); a missed
    period counts as such, not as a 1 s error."""
    anchor = ticks[0]
    return [abs(tick - anchor - round(tick - anchor)) for tick in ticks[1:]]


def measure_schedules(engine: Engine, setup: Setup, results: SignalResults, run: int) -> str:
    """One stack: a file monitor (touches → mule 1), then the idle master and a 1 s timer (mule 2)."""
    plan = setup.plan
    watched = setup.workdir / "watched"
    watched.mkdir(exist_ok=True)
    target = watched / "touched"
    target.touch()
    config = {
        "file_monitor_signal": FILE_MONITOR_SIGNAL,
        "watched": str(watched),
        "timer_signal": TIMER_SIGNAL,
    }
    (setup.workdir / "schedules.json").write_text(json.dumps(config))
    fire_pattern, tick_pattern = r"BENCH filemon (\S+)", r"BENCH tick (\S+)"
    name = f"schedules-{engine.name}-{run}"
    with Stack(engine, ["", ""], setup.workdir, name, setup.cpus, app="schedules_app.py") as stack:
        log = stack.log
        # uWSGI arms a monitor at the top of its next master loop (up to ~1 s after the import):
        # touch until one fires, then measure.
        deadline = time.monotonic() + 10
        while not log.matches(fire_pattern):
            if not stack.running() or time.monotonic() > deadline:
                raise RuntimeError(f"{engine.name}: the file monitor never fired\n{log.tail()}")
            os.utime(target)
            time.sleep(plan.touch_spacing)
            log.refresh()
        time.sleep(0.3)
        log.refresh()
        before = len(log.matches(fire_pattern))
        touches = []
        for _ in range(plan.touches):
            touches.append(time.monotonic())
            os.utime(target)
            time.sleep(plan.touch_spacing)
        time.sleep(0.2)
        log.refresh()
        fires = [float(match[1]) for match in log.matches(fire_pattern)[before:]]

        pids = [stack.pid, *descendants(stack.pid)]
        master_before, tree_before, idle_from = cpu_seconds(stack.pid), _tree_cpu(pids), time.monotonic()
        time.sleep(plan.timer_seconds)
        master_after, tree_after, idle_to = cpu_seconds(stack.pid), _tree_cpu(pids), time.monotonic()
        time.sleep(0.1)
        log.refresh()
        ticks = [float(m[1]) for m in log.matches(tick_pattern) if idle_from <= float(m[1]) <= idle_to]

    latencies, missed, extra = touch_latencies(touches, fires)
    if not latencies or len(ticks) < 2:
        raise RuntimeError(f"{engine.name}: {len(latencies)} file monitor fires, {len(ticks)} timer fires")
    p50 = statistics.median(latencies) * 1000
    results.add(FILE_MONITOR_METRIC, engine.name, p50)
    results.count("file monitor: touches without a fire", engine.name, missed)
    results.count("file monitor: fires beyond one per touch", engine.name, extra)
    idle = 100 * (master_after - master_before) / (idle_to - idle_from)
    tree = 100 * (tree_after - tree_before) / (idle_to - idle_from)
    results.add(IDLE_METRIC, engine.name, idle)
    errors = timer_errors(ticks)
    results.add(TIMER_MAX_METRIC, engine.name, max(errors) * 1000)
    results.add(TIMER_MEDIAN_METRIC, engine.name, statistics.median(errors) * 1000)
    return (
        f"file monitor p50 {p50:.2f} ms (max {max(latencies) * 1000:.2f}, {missed} missed, {extra} extra), "
        f"idle master {idle:.2f} % (whole tree {tree:.2f} %), "
        f"timer error max {max(errors) * 1000:.3f} ms median {statistics.median(errors) * 1000:.3f} ms "
        f"over {len(errors)} periods"
    )


def _tree_cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except FileNotFoundError:
            pass
    return total


def measure_locks(engine: Engine, setup: Setup, results: SignalResults, run: int) -> str:
    """One stack of 4 programmed mules contending for lock 1 from a shared start time."""
    go = setup.workdir / f"go-{engine.name}-{run}.json"
    (setup.workdir / "locks.json").write_text(json.dumps({"go": go.name}))
    name = f"locks-{engine.name}-{run}"
    with Stack(
        engine, ["locker.py"] * LOCKERS, setup.workdir, name, setup.cpus, options=["--locks", "1"]
    ) as stack:
        stack.log.wait(r"BENCH lock-ready (\d+)", LOCKERS, stack.running)
        start = time.monotonic() + 0.3
        pending = go.with_suffix(".tmp")
        pending.write_text(json.dumps({"start": start, "duration": setup.plan.lock_seconds}))
        pending.rename(go)  # appears whole: a mule never reads half of it
        done = stack.log.wait(r"BENCH locked (\d+) (\d+) (\S+) (\S+) (\S+)", LOCKERS, stack.running)
    counts = [int(match[2]) for match in done]
    rate = sum(counts) / (max(float(match[3]) for match in done) - start)
    worst = max(float(match[4]) for match in done)
    results.add(LOCK_METRIC, engine.name, rate)
    results.add(LOCK_WAIT_METRIC, engine.name, worst)
    shares = ", ".join(f"{100 * c / max(1, sum(counts)):.0f}" for c in counts)
    p99s = ", ".join(match[4] for match in done)
    longest = max(float(match[5]) for match in done)
    return (
        f"lock contention {rate / 1000:.1f}k cycles/s (shares % {shares}), "
        f"acquire wait p99 ms {p99s} (longest {longest:.2f} ms)"
    )


MEASUREMENTS: dict[str, Callable[[Engine, Setup, SignalResults, int], str]] = {
    "round_trip": measure_round_trip,
    "fan_out": measure_fan_out,
    "schedules": measure_schedules,
    "locks": measure_locks,
}

# -- report --------------------------------------------------------------------------------


def goals(plan: Plan, idle_bound: float) -> dict[str, Goal]:
    table: dict[str, Goal] = {}
    for phase in ("round_trip", "fan_out"):
        p50, p99 = signal_metrics(phase, plan.fan_out_mules)
        table[p50] = Goal(False, 1.25)
        table[p99] = Goal(False, 1.25)  # SPEC names the p50; the p99 gets the same goal
    table[FILE_MONITOR_METRIC] = Goal(False, bound=2, unit="ms")
    table[IDLE_METRIC] = Goal(False, bound=idle_bound, unit="%")
    table[TIMER_MAX_METRIC] = Goal(False, bound=1, unit="ms")
    table[TIMER_MEDIAN_METRIC] = Goal(False, bound=1, unit="ms")
    table[LOCK_METRIC] = Goal(True)
    table[LOCK_WAIT_METRIC] = Goal(False, 3.0)
    return table


def astray_notes(results: SignalResults) -> list[str]:
    return [
        f"{what}: {sum(counts)} in {len(counts)} runs under {engine}"
        for what, per_engine in results.astray.items()
        for engine, counts in per_engine.items()
        if sum(counts)
    ]


# -- main ----------------------------------------------------------------------------------


def make_plan(quick: bool, fan_out_mules: int) -> Plan:
    if quick:
        return Plan((100, 1000), (50, 500), fan_out_mules, 20, 0.1, 4.0, 0.5)
    return Plan((300, 3000), (200, 2000), fan_out_mules, 50, 0.1, 10.5, 1.0)


def write_scripts(workdir: Path) -> None:
    scripts = {"signals_app.py": SIGNALS_APP, "driver.py": DRIVER, "schedules_app.py": SCHEDULES_APP}
    common.write_scripts(workdir, {**scripts, "locker.py": LOCKER, "app.py": APP})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common.add_engine_arguments(parser, "fewer runs, shorter phases, for a first look")
    parser.add_argument(
        "--fan-out", type=int, default=8, help="signal-mode mules answering a fan-out (default 8)"
    )
    parser.add_argument(
        "--only", help=f"comma-separated measurements to run, of {','.join(MEASUREMENTS)} (default: all)"
    )
    parser.add_argument(
        "--idle-bound", type=float, default=5.0, help="idle master CPU goal, %% of one core (default 5)"
    )
    args = parser.parse_args(argv)
    runs = args.runs or (2 if args.quick else 5)
    common.require_uwsgi(parser, args.uwsgi)
    chosen = args.only.split(",") if args.only else list(MEASUREMENTS)
    if unknown := set(chosen) - set(MEASUREMENTS):
        parser.error(
            f"unknown measurement(s) {', '.join(sorted(unknown))}; choose from {', '.join(MEASUREMENTS)}"
        )
    plan = make_plan(args.quick, args.fan_out)
    engines = [uwsgi_engine(args.uwsgi), muletui_engine()]
    results = SignalResults()
    load_before = os.getloadavg()[0]
    try:
        with tempfile.TemporaryDirectory(prefix="muletui-bench-") as tmp:
            setup = Setup(Path(tmp), plan, parse_cpus(args.cpus))
            write_scripts(setup.workdir)
            for run, order in alternating(engines, runs):
                for measure in (MEASUREMENTS[name] for name in chosen):
                    for engine in order:
                        line = measure(engine, setup, results, run)
                        print(f"run {run + 1}/{runs} {engine.name:8} {line}", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print("interrupted; medians of the runs so far:", file=sys.stderr)
    table = {
        metric: goal for metric, goal in goals(plan, args.idle_bound).items() if metric in results.values
    }
    # Other work on these 2-core VMs skews every figure: say how busy the machine was.
    load = f"load average (1 min) {load_before:.2f} at the start, {os.getloadavg()[0]:.2f} at the end"
    print(report(results, table, engines, runs, [*astray_notes(results), load]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
