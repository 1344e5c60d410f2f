"""Every bench scenario in one command: messages, signals, memory, locks and the console.

Runs the scenarios of ``messages.py``, ``signals.py``, ``workers.py``, ``console.py`` and
``console_pty.py`` (reusing their functions; the last needs pyte, from the ``bench`` extra, and
is skipped with a note without it), plus two that only this command has: the PSS and RSS of a whole 8-mule
stack, and an exact-count lock check (4 mules × 2,000 lock/increment/unlock cycles on one
shared counter). Each scenario runs ``--runs`` times per engine, the engines alternating run
by run. At the end it prints one table (median, min and max per engine, the muletui/uWSGI
ratio of the medians, SPEC's goal) and writes every single run's figures to a JSON file.

Usage, from the repository root::

    .venv/bin/python bench/run.py [--runs N] [--quick] [--engines both|muletui|uwsgi]
                                  [--json PATH] [--cpus LIST] [--uwsgi PATH]

Without uWSGI (no binary at ``--uwsgi``) it runs the muletui side and says so in one line.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import textwrap
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # also when imported from elsewhere

import console_pty
import messages
import signals
import workers
from common import (
    DEFAULT_UWSGI,
    Engine,
    Results,
    Stack,
    alternating,
    muletui_engine,
    parse_cpus,
    uwsgi_engine,
)

MEMORY_MULES = 8
LOCK_MULES = 4
LOCK_CYCLES = 2000


# -- recording every run --------------------------------------------------------------------


class Recorder:
    """Where every single figure goes, with the scenario and run it came from."""

    def __init__(self) -> None:
        self.rows: list[dict[str, object]] = []
        self.scenario = ""
        self.run = 0

    def add(self, metric: str, engine: str, value: float) -> None:
        self.rows.append(
            {"scenario": self.scenario, "run": self.run, "engine": engine, "metric": metric, "value": value}
        )


RECORDER = Recorder()


class RecordedMessages(messages.MessageResults):
    def add(self, metric: str, engine: str, value: float) -> None:
        super().add(metric, engine, value)
        RECORDER.add(metric, engine, value)


class RecordedSignals(signals.SignalResults):
    def add(self, metric: str, engine: str, value: float) -> None:
        super().add(metric, engine, value)
        RECORDER.add(metric, engine, value)


class Recorded(Results):
    def add(self, metric: str, engine: str, value: float) -> None:
        super().add(metric, engine, value)
        RECORDER.add(metric, engine, value)


# -- new scenarios: memory of the whole tree, exact lock count -------------------------------

IDLE_MULE = '''
"""One of the mules of the memory measurement: says it is ready, then waits."""
import os, time, uwsgi

print(f"BENCH ready {uwsgi.mule_id()} {time.monotonic()!r} {os.getpid()}", flush=True)
while True:
    uwsgi.mule_get_msg()
'''

COUNTER = '''
"""From a shared start time: lock(1), read the shared counter, write it + 1, unlock(1)."""
import json, os, time, uwsgi

me = uwsgi.mule_id()
plan = json.load(open("counter.json"))
fd = os.open(plan["counter"], os.O_RDWR)
print(f"BENCH count-ready {me}", flush=True)
while not os.path.exists(plan["go"]):
    time.sleep(0.005)
start = json.load(open(plan["go"]))["start"]
time.sleep(max(0.0, start - time.monotonic()))
lock, unlock, pread, pwrite = uwsgi.lock, uwsgi.unlock, os.pread, os.pwrite
for _ in range(plan["cycles"]):
    lock(1)
    value = int.from_bytes(pread(fd, 8, 0), "little")
    pwrite(fd, (value + 1).to_bytes(8, "little"), 0)
    unlock(1)
print(f"BENCH counted {me} {time.monotonic()!r}", flush=True)
while True:
    uwsgi.mule_get_msg()
'''

PSS_METRIC = f"PSS, master + {MEMORY_MULES} mules (MiB)"
RSS_METRIC = f"RSS, master + {MEMORY_MULES} mules (MiB)"
COUNT_METRIC = f"lock exact count, {LOCK_MULES}×{LOCK_CYCLES:,} (final counter)"
COUNT_RATE_METRIC = f"lock exact count, {LOCK_MULES} mules (cycles/s)"


def smaps_rollup(pid: int) -> tuple[int, int]:
    """(Pss, Rss) of one process in kB, from ``/proc/PID/smaps_rollup``."""
    fields: dict[str, int] = {}
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            key, _, rest = line.partition(":")
            if key in ("Pss", "Rss"):
                fields[key] = int(rest.split()[0])
    return fields["Pss"], fields["Rss"]


def measure_memory(engine: Engine, workdir: Path, cpus: set[int] | None, results: Results, run: int) -> str:
    """One stack of 8 idle mules; PSS and RSS summed over the launched process and descendants."""
    name = f"memory-{engine.name}-{run}"
    with Stack(engine, ["idle.py"] * MEMORY_MULES, workdir, name, cpus) as stack:
        ready = stack.log.wait(r"BENCH ready (\d+) (\S+) (\d+)", MEMORY_MULES, stack.running)
        time.sleep(0.5)  # let the stack settle (uWSGI's worker, muletui's first stats sample)
        pids = stack.tree()
        if missing := {int(match[3]) for match in ready} - set(pids):
            raise RuntimeError(f"{engine.name}: mule pids {missing} are not in the launched tree")
        pss = rss = 0
        for pid in pids:
            try:
                one_pss, one_rss = smaps_rollup(pid)
            except FileNotFoundError:
                continue
            pss, rss = pss + one_pss, rss + one_rss
    results.add(PSS_METRIC, engine.name, pss / 1024)
    results.add(RSS_METRIC, engine.name, rss / 1024)
    return f"memory of {len(pids)} processes: PSS {pss / 1024:.1f} MiB, RSS {rss / 1024:.1f} MiB"


def measure_lock_count(
    engine: Engine, workdir: Path, cpus: set[int] | None, results: Results, run: int
) -> str:
    """4 mules × 2,000 lock/increment/unlock cycles on a counter in a file: exactly 8,000 at the end."""
    counter = workdir / f"counter-{engine.name}-{run}"
    counter.write_bytes((0).to_bytes(8, "little"))
    go = workdir / f"count-go-{engine.name}-{run}.json"
    plan = {"counter": str(counter), "go": str(go), "cycles": LOCK_CYCLES}
    (workdir / "counter.json").write_text(json.dumps(plan))
    name = f"count-{engine.name}-{run}"
    with Stack(engine, ["counter.py"] * LOCK_MULES, workdir, name, cpus, options=["--locks", "1"]) as stack:
        stack.log.wait(r"BENCH count-ready (\d+)", LOCK_MULES, stack.running)
        start = time.monotonic() + 0.3
        pending = go.with_suffix(".tmp")
        pending.write_text(json.dumps({"start": start}))
        pending.rename(go)
        done = stack.log.wait(r"BENCH counted (\d+) (\S+)", LOCK_MULES, stack.running)
    final = int.from_bytes(counter.read_bytes()[:8], "little")
    rate = LOCK_MULES * LOCK_CYCLES / (max(float(match[2]) for match in done) - start)
    results.add(COUNT_METRIC, engine.name, final)
    results.add(COUNT_RATE_METRIC, engine.name, rate)
    verdict = "exact" if final == LOCK_MULES * LOCK_CYCLES else "WRONG: the lock let updates through"
    return f"lock exact count {final} of {LOCK_MULES * LOCK_CYCLES} ({verdict}), {rate / 1000:.1f}k cycles/s"


# -- the console (muletui only: there is no uWSGI side) --------------------------------------

CONSOLE_KEY = "console: key → screen p99 under a flood (ms)"
CONSOLE_LAG = "console: loop lag p99 under a flood (ms)"
CONSOLE_RSS = "console: peak RSS under a flood (MiB)"
CONSOLE_INGESTED = "console: lines/s ingested / offered"
CONSOLE_LOST = "console: lines lost under a flood"
CONSOLE_RTT = "console: round trip p50, console / headless"


def measure_console(workdir: Path, quick: bool, results: Results, run: int) -> str:
    import console  # noqa: PLC0415 - imports Textual and the console: only when this scenario runs

    rate, seconds, count = (10_000, 1.0, 500) if quick else (50_000, 10.0, 3000)
    flood = asyncio.run(console.measure_flood(workdir, rate, seconds, 4, None))
    found = console.measure_rtt(workdir, 1, count)
    key99, lag99 = console.ms(flood.to_frame, 0.99), console.ms(flood.lag, 0.99)
    ratio = found["console"][0][0] / found["headless"][0][0]
    results.add(CONSOLE_KEY, "muletui", key99)
    results.add(CONSOLE_LAG, "muletui", lag99)
    results.add(CONSOLE_RSS, "muletui", flood.rss["peak"])
    results.add(CONSOLE_INGESTED, "muletui", flood.ingested_per_s / flood.offered)
    results.add(CONSOLE_LOST, "muletui", flood.lost)
    results.add(CONSOLE_RTT, "muletui", ratio)
    return (
        f"console: key → screen p99 {key99:.1f} ms, loop lag p99 {lag99:.1f} ms, "
        f"peak RSS {flood.rss['peak']:.0f} MiB, ingested {flood.ingested_per_s:,.0f} of "
        f"{flood.offered:,.0f} lines/s, {flood.lost} lost, round trip console/headless {ratio:.2f}×"
    )


def measure_console_pty(workdir: Path, quick: bool, results: Results, run: int) -> str:
    """The console on a real pseudo-terminal: key → screen idle and under a flood, idle CPU."""
    found = console_pty.measure(workdir, console_pty.QUICK if quick else console_pty.Plan(), run)
    for metric, value in found.items():
        results.add(metric, "muletui", value)
    return console_pty.summary_line(found)


# -- goals -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Goal:
    """SPEC's goal: a ratio muletui/uWSGI (``ratio``), a bound on muletui's median (``bound``), or
    both (both must hold); ``exact``: every run of muletui must equal it. ``None`` everywhere: no
    goal (a guide)."""

    higher_is_better: bool
    ratio: float | None = None
    bound: float | None = None
    exact: float | None = None
    unit: str = ""

    def text(self) -> str:
        if self.exact is not None:
            return f"= {self.exact:g}"
        sign = "≥" if self.higher_is_better else "≤"
        parts = [f"{sign} {self.bound:g}{self.unit}"] if self.bound is not None else []
        parts += [f"{sign} {self.ratio:.2f}×"] if self.ratio is not None else []
        return ", ".join(parts)

    def verdict(self, values: list[float], ratio: float | None) -> str:
        if not values:
            return ""
        if self.exact is not None:
            return "ok" if all(value == self.exact for value in values) else "miss"
        median = statistics.median(values)
        if self.bound is not None:
            met = median >= self.bound if self.higher_is_better else median <= self.bound
            if not met or self.ratio is None:
                return "ok" if met else "miss"
        if self.ratio is None or ratio is None:
            return ""
        if ratio >= self.ratio if self.higher_is_better else ratio <= self.ratio:
            return "ok"
        near = ratio >= self.ratio * 0.8 if self.higher_is_better else ratio <= self.ratio * 1.2
        return "noise" if near else "miss"


def goal_for(metric: str, mules: int, fan_out: int) -> Goal:
    """SPEC §4/§5's goal for a metric, from the scripts' own tables where they have one."""
    own = {**messages.goals(mules), **signals.goals(signals.make_plan(False, fan_out), 5.0), **workers.goals()}
    if metric in own:
        old = own[metric]
        if isinstance(old, messages.BoundAndRatio):
            return Goal(old.higher_is_better, ratio=old.ratio, bound=old.bound, unit=f" {old.unit}")
        if old.bound is not None:
            return Goal(old.higher_is_better, bound=old.bound, unit=f" {old.unit}")
        return Goal(old.higher_is_better, ratio=old.ratio)
    return {
        PSS_METRIC: Goal(False, ratio=1.5),
        RSS_METRIC: Goal(False),
        COUNT_METRIC: Goal(True, exact=LOCK_MULES * LOCK_CYCLES),
        COUNT_RATE_METRIC: Goal(True, ratio=1.0),
        CONSOLE_KEY: Goal(False, bound=100, unit=" ms"),
        CONSOLE_LAG: Goal(False, bound=100, unit=" ms"),
        CONSOLE_RSS: Goal(False),
        CONSOLE_INGESTED: Goal(True, bound=0.95),
        CONSOLE_LOST: Goal(False, exact=0),
        CONSOLE_RTT: Goal(False, bound=1.5, unit="×"),
        **{name: Goal(False, bound=bound, unit=f" {unit}") for name, (bound, unit) in console_pty.BOUNDS.items()},
    }.get(metric, Goal(False))


# -- the table and the JSON ------------------------------------------------------------------


def fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if abs(value) >= 10_000:
        return f"{value / 1000:.1f}k"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3f}"


def summarize(rows: list[dict[str, object]], names: list[str], mules: int, fan_out: int) -> dict[str, dict]:
    per: dict[str, dict[str, list[float]]] = {}
    for row in rows:
        per.setdefault(str(row["metric"]), {}).setdefault(str(row["engine"]), []).append(float(row["value"]))  # type: ignore[arg-type]
    summary: dict[str, dict] = {}
    for metric, by_engine in per.items():
        stats = {
            name: {"median": statistics.median(v), "min": min(v), "max": max(v), "runs": len(v)}
            for name, v in by_engine.items()
        }
        ref, cand = stats.get("uWSGI", {}).get("median"), stats.get("muletui", {}).get("median")
        ratio = cand / ref if ref and cand is not None else None
        goal = goal_for(metric, mules, fan_out)
        summary[metric] = {
            "engines": stats,
            "ratio": ratio,
            "goal": goal.text(),
            "better": "higher" if goal.higher_is_better else "lower",
            "verdict": goal.verdict(by_engine.get("muletui", []), ratio),
        }
    return summary


def table(summary: dict[str, dict], names: list[str]) -> str:
    header = ["metric"]
    for name in names:
        header += [f"{name} median", "min", "max"]
    header += ["muletui/uWSGI", "better", "goal", ""]
    lines = [header]
    for metric, entry in summary.items():
        cells = [metric]
        for name in names:
            stats = entry["engines"].get(name)
            cells += [fmt(stats[key]) if stats else "—" for key in ("median", "min", "max")]
        ratio = entry["ratio"]
        cells += ["—" if ratio is None else f"{ratio:.2f}×", entry["better"], entry["goal"], entry["verdict"]]
        lines.append(cells)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines]
    text.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(text)


# -- main ------------------------------------------------------------------------------------

Measure = Callable[[Engine, int], str]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per engine and scenario (default 3)")
    parser.add_argument("--quick", action="store_true", help="tiny counts and short phases, for a smoke run")
    parser.add_argument(
        "--engines", choices=("both", "muletui", "uwsgi"), default="both", help="which engines (default both)"
    )
    parser.add_argument(
        "--json",
        type=Path,
        help="where to write every run's figures (default: /tmp/bench-results-<timestamp>.json)",
    )
    parser.add_argument("--uwsgi", default=DEFAULT_UWSGI, help=f"the uwsgi binary (default {DEFAULT_UWSGI})")
    parser.add_argument("--cpus", help="pin every stack to these CPUs (default: unpinned, as in SPEC §5)")
    parser.add_argument(
        "--fan-out", type=int, default=8, help="signal-mode mules answering a fan-out (default 8)"
    )
    args = parser.parse_args(argv)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = args.json or Path(tempfile.gettempdir()) / f"bench-results-{stamp}.json"
    cpus = parse_cpus(args.cpus)

    engines: list[Engine] = []
    note = ""
    if args.engines in ("both", "uwsgi"):
        if os.access(args.uwsgi, os.X_OK):
            engines.append(uwsgi_engine(args.uwsgi))
        else:
            note = f"uWSGI: no binary at {args.uwsgi} (use --uwsgi PATH or $UWSGI): measuring muletui only"
            print(note, file=sys.stderr, flush=True)
    if args.engines in ("both", "muletui") or (args.engines == "uwsgi" and not engines):
        engines.append(muletui_engine())
    names = [engine.name for engine in engines]
    pty_note = ""
    if "muletui" in names and importlib.util.find_spec("pyte") is None:
        pty_note = "console in a pty: no pyte (pip install -e '.[bench]'): skipped"
        print(pty_note, file=sys.stderr, flush=True)

    if args.quick:  # tiny counts: every scenario in seconds, for a smoke run
        message_plan = messages.Plan(
            [("warm-up", 64, 2000), ("64B", 64, 20_000), ("1KiB", 1024, 20_000), ("32KiB", 32768, 2000)],
            (200, 1000),
            messages.BACKOFF,
        )
        signal_plan = signals.Plan((50, 300), (20, 150), args.fan_out, 8, 0.1, 3.2, 0.3)
    else:
        message_plan = messages.make_plan(False, messages.BACKOFF)
        signal_plan = signals.make_plan(False, args.fan_out)

    errors: list[dict[str, object]] = []
    started = time.time()
    try:
        with tempfile.TemporaryDirectory(prefix="muletui-bench-run-") as tmp:
            root = Path(tmp)
            for sub in ("messages", "signals", "workers", "extra", "console", "console-pty"):
                (root / sub).mkdir()
            m_setup = messages.Setup(root / "messages", message_plan, MEMORY_MULES, cpus)
            messages.write_scripts(m_setup.workdir)
            s_setup = signals.Setup(root / "signals", signal_plan, cpus)
            signals.write_scripts(s_setup.workdir)
            w_setup = workers.Setup(root / "workers", workers.make_plan(args.quick), cpus)
            workers.write_scripts(w_setup.workdir)
            extra = root / "extra"
            (extra / "idle.py").write_text(textwrap.dedent(IDLE_MULE).lstrip())
            (extra / "counter.py").write_text(textwrap.dedent(COUNTER).lstrip())
            m_results, s_results, results = RecordedMessages(), RecordedSignals(), Recorded()

            scenarios: dict[str, Measure] = {
                "messages": lambda e, r: messages.measure_messages(e, m_setup, m_results, r),
                "lifecycle": lambda e, r: messages.measure_lifecycle(e, m_setup, m_results, r),
                "startup": lambda e, r: messages.measure_startup(e, m_setup, m_results, r),
                **{
                    name: (lambda e, r, f=f: f(e, s_setup, s_results, r))
                    for name, f in signals.MEASUREMENTS.items()
                },
                **{
                    name: (lambda e, r, f=f: f(e, w_setup, results, r))
                    for name, f in workers.MEASUREMENTS.items()
                },
                "memory": lambda e, r: measure_memory(e, extra, cpus, results, r),
                "lock_count": lambda e, r: measure_lock_count(e, extra, cpus, results, r),
            }
            for run, order in alternating(engines, args.runs):
                for scenario, measure in scenarios.items():
                    for engine in order:
                        RECORDER.scenario, RECORDER.run = scenario, run
                        try:
                            line = measure(engine, run)
                        except RuntimeError as error:
                            errors.append(
                                {"scenario": scenario, "run": run, "engine": engine.name, "error": str(error)}
                            )
                            line = f"{scenario} FAILED: {str(error).splitlines()[0]}"
                        print(
                            f"run {run + 1}/{args.runs} {engine.name:8} {line}", file=sys.stderr, flush=True
                        )
                if "muletui" in names:
                    RECORDER.scenario, RECORDER.run = "console", run
                    try:
                        line = measure_console(root / "console", args.quick, results, run)
                    except Exception as error:  # noqa: BLE001 - the console runs in this process
                        errors.append(
                            {"scenario": "console", "run": run, "engine": "muletui", "error": str(error)}
                        )
                        line = f"console FAILED: {error!r}"
                        traceback.print_exc()
                    print(f"run {run + 1}/{args.runs} muletui  {line}", file=sys.stderr, flush=True)
                if "muletui" in names and not pty_note:
                    RECORDER.scenario, RECORDER.run = "console_pty", run
                    try:
                        line = measure_console_pty(root / "console-pty", args.quick, results, run)
                    except RuntimeError as error:
                        errors.append(
                            {"scenario": "console_pty", "run": run, "engine": "muletui", "error": str(error)}
                        )
                        line = f"console_pty FAILED: {str(error).splitlines()[0]}"
                    print(f"run {run + 1}/{args.runs} muletui  {line}", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print("interrupted; the runs so far:", file=sys.stderr)

    summary = summarize(RECORDER.rows, names, MEMORY_MULES, args.fan_out)
    load = os.getloadavg()[0]
    print(
        f"{args.runs} runs per engine{' (--quick)' if args.quick else ''}, engines alternating; "
        f"{time.time() - started:.0f} s; load average (1 min) at the end {load:.2f}"
    )
    for told in (note, pty_note):
        if told:
            print(told)
    print(table(summary, names))
    for error in errors:
        print(
            f"FAILED {error['scenario']} run {int(error['run']) + 1} {error['engine']}: "  # type: ignore[call-overload]
            f"{str(error['error']).splitlines()[0]}"
        )
    document = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
        "args": {key: str(value) if isinstance(value, Path) else value for key, value in vars(args).items()},
        "engines": names,
        "uwsgi": args.uwsgi if "uWSGI" in names else None,
        "note": "; ".join(filter(None, (note, pty_note))),
        "runs": RECORDER.rows,
        "summary": summary,
        "errors": errors,
    }
    out.write_text(json.dumps(document, indent=1))
    print(f"every run's figures: {out}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
