"""The console as a person sees it: ``muletui`` on a real pseudo-terminal (issue 11).

``console.py`` drives the app with Pilot in this process and times frames inside Textual. This
script runs ``python -m muletui`` as a person does, on a fresh pseudo-terminal of 140×45 with
``TERM=xterm-256color``, and judges only by what reaches the terminal:

- **Key → screen.** It presses ``1`` … ``5`` in turn (each shows another tab) by writing to the
  terminal, and times from that write to the arrival of the output after which the screen shows
  the new tab's pane. The output goes through a terminal emulator (pyte), so what counts is the
  screen, not the first byte of whatever repaint came next. 100 keys on an idle stack of 4
  mules, then 100 more while those mules print 50,000 lines/s together (~80 characters each);
  a random pause of 50–250 ms after each key keeps the presses out of step with the console's
  paint timer.
- **Idle CPU.** With nothing typed, after a 3 s settle: the console process's user + system
  time (``/proc/PID/stat``, all its threads; the master runs in it) over 10 s, on the demo
  stack (``muletui`` with no argument) and on one mule that only sleeps. The stack's own
  processes (stack root and mules) are counted apart, as are the bytes written to the terminal.

Usage, from the repository root (pyte comes with ``pip install -e '.[bench]'``)::

    .venv/bin/python bench/console_pty.py [--runs N] [--quick] [--only keys|idle] [--keys N]
                                          [--rate LINES_PER_S] [--seconds S]

It prints each run's figures on stderr and their median, min and max on stdout. Everything runs
in a temporary directory. Every process it starts is stopped by pid: closing the terminal ends
the console and its stack, and whatever is still alive 5 s later is killed (SIGKILL).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # also when imported from elsewhere

from common import REPO, percentile
from terminal import COLUMNS, ROWS, START_TIMEOUT, Screen, Terminal

#: Each key, and text that only its pane shows in its first rows below the tab bar: the log's
#: rounded border, the composer's checkbox, and the headers of the signal, timer and lock tables.
PANES = (
    ("1", "╭──"),
    ("2", "bytes escapes"),
    ("3", "registered by"),
    ("4", "schedule"),
    ("5", "holder / members"),
)
TAB_BAR = "Log  Messages  Signals  Timers  Locks & farms"
PANE_ROWS = range(2, 8)  # rows below the tab bar where a pane's marker is looked for
PAUSE = (0.05, 0.25)  # s after a key reached the screen, before the next key
KEY_TIMEOUT = 5.0  # s for a key to reach the screen before the run is declared broken
SLICE = 0.01  # s: each flooding mule writes its share of the rate in slices this long

KEY_IDLE_P50 = "console in a pty: key → screen p50, idle (ms)"
KEY_IDLE_P99 = "console in a pty: key → screen p99, idle (ms)"
KEY_FLOOD_P50 = "console in a pty: key → screen p50 under a flood (ms)"
KEY_FLOOD_P99 = "console in a pty: key → screen p99 under a flood (ms)"
FLOOD_WRITTEN = "console in a pty: lines/s the mules wrote in the flood"
FLOOD_CPU = "console in a pty: console CPU under a flood (% of a core)"
BENCH_CPU = "console in a pty: this bench's CPU under a flood (% of a core)"
DEMO_CPU = "console in a pty: console CPU idle, demo (% of a core)"
DEMO_STACK_CPU = "console in a pty: stack CPU idle, demo (% of a core)"
DEMO_OUTPUT = "console in a pty: terminal output idle, demo (KB/s)"
ONE_CPU = "console in a pty: console CPU idle, one sleeping mule (% of a core)"
ONE_STACK_CPU = "console in a pty: stack CPU idle, one sleeping mule (% of a core)"
ONE_OUTPUT = "console in a pty: terminal output idle, one sleeping mule (KB/s)"
#: The goals of issue 11, as bounds on the median: key → screen under 50k lines/s, idle demo.
BOUNDS = {KEY_FLOOD_P99: (100.0, "ms"), DEMO_CPU: (5.0, "%")}

FLOOD = '''
"""Says it is ready, waits for the go file, then prints its share of the rate in slices until
the stop file appears, and tells what it wrote."""
import json, os, sys, time, uwsgi

plan = json.load(open("flood.json"))
me = uwsgi.mule_id()
open(f"ready-{me}", "w").close()
while not os.path.exists(plan["go"]):
    time.sleep(0.02)
write, clock, sleep, exists, pad = sys.stdout.write, time.monotonic, time.sleep, os.path.exists, "." * 56
per_slice, slice_s, stop = plan["per_slice"], plan["slice"], plan["stop"]
started, sent, k = clock(), 0, 0
while not exists(stop):
    k += 1
    write("".join([f"mule {me} flood {i:08d} {pad}\\n" for i in range(sent, sent + per_slice)]))
    sent += per_slice
    late = started + k * slice_s - clock()
    if late > 0:  # behind (the master reads slower than the rate): write the next slice at once
        sleep(late)
with open(f"flooded-{me}.tmp", "w") as out:
    json.dump({"sent": sent, "seconds": clock() - started}, out)
os.rename(f"flooded-{me}.tmp", f"flooded-{me}.json")
while True:
    time.sleep(3600)
'''

SLEEPER = '''
"""Does nothing, for ever."""
import time

while True:
    time.sleep(3600)
'''


@dataclass(frozen=True)
class Plan:
    """How much to measure: keys per phase, the flood, and the idle windows."""

    keys: int = 100
    rate: float = 50_000  # lines/s, all flooding mules together
    mules: int = 4
    settle: float = 3.0  # s between the stack being up and an idle window
    seconds: float = 10.0  # s of an idle window


QUICK = Plan(keys=10, rate=10_000, settle=1.5, seconds=2.0)


def console_argv(options: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "muletui", *options]


def console_env() -> dict[str, str]:
    """This environment, with muletui imported from this checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


# -- key → screen ----------------------------------------------------------------------------


@dataclass
class Keys:
    """What the key measurement found: latencies in s, and the flood as it happened."""

    idle: list[float]
    flood: list[float]
    written_per_s: float  # by the mules: less than planned if the console read slower
    flood_cpu: float  # of the console process during the flooded keys, in cores
    bench_cpu: float  # of this process (mostly the emulator) meanwhile, in cores: it shares the CPUs


def wait_for(check: Callable[[], bool], what: str, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def time_keys(terminal: Terminal, screen: Screen, bar: int, count: int, rng: random.Random) -> list[float]:
    """Press ``count`` tab keys in turn, each once the last one showed; their latencies in s.

    The console starts on tab 1 (the log), so the presses start with tab 2.
    """
    latencies = []
    for n in range(count):
        key, marker = PANES[(n + 1) % len(PANES)]
        screen.expect(screen.shows(marker, [bar + offset for offset in PANE_ROWS]))
        sent = terminal.press(key)
        shown = screen.wait(KEY_TIMEOUT)
        if shown is None:
            raise RuntimeError(f"key {key}: {marker!r} not on screen {KEY_TIMEOUT:g} s later:\n{screen.text()}")
        latencies.append(shown - sent)
        time.sleep(rng.uniform(*PAUSE))
    return latencies


def measure_keys(workdir: Path, plan: Plan, seed: int) -> Keys:
    """Keys on an idle stack of flooding mules, then the same number while they flood."""
    go, stop = workdir / "go", workdir / "stop"
    per_slice = max(1, round(plan.rate * SLICE / plan.mules))
    flood = {"per_slice": per_slice, "slice": SLICE, "go": str(go), "stop": str(stop)}
    (workdir / "flood.json").write_text(json.dumps(flood))
    (workdir / "flood.py").write_text(FLOOD.lstrip())
    rng = random.Random(seed)
    screen = Screen()
    with Terminal(console_argv(["--mule=flood.py"] * plan.mules), workdir, console_env(), screen) as terminal:
        ready = [workdir / f"ready-{mule}" for mule in range(1, plan.mules + 1)]
        wait_for(lambda: all(path.exists() for path in ready) or not terminal.running(), "the mules")
        wait_for(lambda: screen.find(TAB_BAR) is not None or not terminal.running(), "the tab bar")
        if not terminal.running():
            raise RuntimeError(f"the console exited before its first key; its output ended:\n{terminal.tail()}")
        time.sleep(1.0)  # the first paints and snapshots
        bar = screen.find(TAB_BAR)
        assert bar is not None
        idle = time_keys(terminal, screen, bar, plan.keys, rng)
        go.touch()
        time.sleep(0.5)  # the flood reaches its rate
        started, (cpu, _stack), own = time.perf_counter(), terminal.cpu(), time.process_time()
        flooded = time_keys(terminal, screen, bar, plan.keys, rng)
        elapsed = time.perf_counter() - started
        flood_cpu, bench_cpu = (terminal.cpu()[0] - cpu) / elapsed, (time.process_time() - own) / elapsed
        stop.touch()
        reports = [workdir / f"flooded-{mule}.json" for mule in range(1, plan.mules + 1)]
        wait_for(lambda: all(path.exists() for path in reports), "the flood's end", 10.0)
    ends = [json.loads(path.read_text()) for path in reports]
    written = sum(end["sent"] for end in ends) / max(end["seconds"] for end in ends)
    return Keys(idle, flooded, written, flood_cpu, bench_cpu)


# -- idle CPU --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Idle:
    """One idle window: CPU of the console and of its stack in cores, terminal output in B/s."""

    console: float
    stack: float
    output: float


def measure_idle(workdir: Path, argv: Sequence[str], plan: Plan) -> Idle:
    """The console on ``argv`` with nothing typed: CPU over ``plan.seconds`` after the settle."""
    with Terminal(console_argv(argv), workdir, console_env()) as terminal:
        terminal.wait_descendants(2)  # the stack root and a mule at least
        time.sleep(plan.settle)
        started, (console, stack), written = time.perf_counter(), terminal.cpu(), terminal.output_bytes
        time.sleep(plan.seconds)
        console_end, stack_end = terminal.cpu()
        elapsed = time.perf_counter() - started
        output = terminal.output_bytes - written
        if not terminal.running():
            raise RuntimeError("the console exited during the idle window")
    return Idle((console_end - console) / elapsed, (stack_end - stack) / elapsed, output / elapsed)


# -- one run, and the report -----------------------------------------------------------------


def measure(workdir: Path, plan: Plan, run: int, only: str | None = None) -> dict[str, float]:
    """One run in a fresh subdirectory of ``workdir``: every figure by metric name."""
    found: dict[str, float] = {}
    if only in (None, "keys"):
        keys_dir = workdir / f"keys-{run}"
        keys_dir.mkdir()
        keys = measure_keys(keys_dir, plan, seed=run)
        idle, flood = sorted(keys.idle), sorted(keys.flood)
        found[KEY_IDLE_P50] = percentile(idle, 0.5) * 1000
        found[KEY_IDLE_P99] = percentile(idle, 0.99) * 1000
        found[KEY_FLOOD_P50] = percentile(flood, 0.5) * 1000
        found[KEY_FLOOD_P99] = percentile(flood, 0.99) * 1000
        found[FLOOD_WRITTEN] = keys.written_per_s
        found[FLOOD_CPU] = keys.flood_cpu * 100
        found[BENCH_CPU] = keys.bench_cpu * 100
    if only in (None, "idle"):
        for name, argv, metrics in (
            ("demo", [], (DEMO_CPU, DEMO_STACK_CPU, DEMO_OUTPUT)),
            ("one", ["--mule=sleeper.py"], (ONE_CPU, ONE_STACK_CPU, ONE_OUTPUT)),
        ):
            idle_dir = workdir / f"idle-{name}-{run}"
            idle_dir.mkdir()
            (idle_dir / "sleeper.py").write_text(SLEEPER.lstrip())
            window = measure_idle(idle_dir, argv, plan)
            found |= dict(zip(metrics, (window.console * 100, window.stack * 100, window.output / 1000)))
    return found


def summary_line(found: dict[str, float]) -> str:
    """One run's figures on one line, for the progress output."""
    parts = []
    if KEY_IDLE_P50 in found:
        parts.append(
            f"key → screen p50/p99 idle {found[KEY_IDLE_P50]:.1f}/{found[KEY_IDLE_P99]:.1f} ms, "
            f"under {found[FLOOD_WRITTEN]:,.0f} lines/s {found[KEY_FLOOD_P50]:.1f}/{found[KEY_FLOOD_P99]:.1f} ms "
            f"(CPU of the console {found[FLOOD_CPU]:.0f} %, of this bench {found[BENCH_CPU]:.0f} %)"
        )
    if DEMO_CPU in found:
        parts.append(
            f"idle CPU console/stack: demo {found[DEMO_CPU]:.1f}/{found[DEMO_STACK_CPU]:.1f} %, "
            f"one sleeping mule {found[ONE_CPU]:.1f}/{found[ONE_STACK_CPU]:.1f} %"
        )
    return "console in a pty: " + "; ".join(parts)


def report(runs: list[dict[str, float]]) -> str:
    """Median, min and max of every figure over the runs, with issue 11's goals."""
    rows = [["metric", "median", "min", "max", "goal", ""]]
    for metric in runs[0]:
        values = [found[metric] for found in runs if metric in found]
        median = statistics.median(values)
        bound = BOUNDS.get(metric)
        goal = f"≤ {bound[0]:g} {bound[1]}" if bound else ""
        verdict = ("ok" if median <= bound[0] else "miss") if bound else ""
        rows.append([metric, *(f"{value:,.1f}" for value in (median, min(values), max(values))), goal, verdict])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs (default 3)")
    parser.add_argument("--quick", action="store_true", help="10 keys per phase at 10,000 lines/s, 2 s idle windows")
    parser.add_argument("--only", choices=("keys", "idle"), help="one of the two measurements")
    parser.add_argument("--keys", type=int, help="keys per phase (default 100)")
    parser.add_argument("--rate", type=float, help="flood, lines/s of all mules together (default 50000)")
    parser.add_argument("--seconds", type=float, help="idle window, s (default 10)")
    args = parser.parse_args(argv)
    if args.only != "idle" and importlib.util.find_spec("pyte") is None:
        parser.error("the key measurement needs pyte: pip install -e '.[bench]' (or use --only idle)")
    base = QUICK if args.quick else Plan()
    plan = replace(
        base, keys=args.keys or base.keys, rate=args.rate or base.rate, seconds=args.seconds or base.seconds
    )
    started, runs = time.monotonic(), []
    with tempfile.TemporaryDirectory(prefix="muletui-bench-pty-") as tmp:
        workdir = Path(tmp)
        try:
            for run in range(args.runs):
                runs.append(measure(workdir, plan, run, args.only))
                print(f"run {run + 1}/{args.runs} {summary_line(runs[-1])}", file=sys.stderr, flush=True)
        except KeyboardInterrupt:
            print("interrupted; the runs so far:", file=sys.stderr)
    if not runs:
        return 1
    print(
        f"console in a {COLUMNS}×{ROWS} pty: {len(runs)} runs, {plan.keys} keys per phase, flood of "
        f"{plan.rate:,.0f} lines/s from {plan.mules} mules, idle windows of {plan.seconds:g} s after "
        f"{plan.settle:g} s; {time.monotonic() - started:.0f} s; load average (1 min) {os.getloadavg()[0]:.2f}"
    )
    print(report(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
