"""The console under load (SPEC §4, §5): responsiveness, painting, memory, and message cost.

Two measurements, a table each:

- **Flood.** The console (``MuleConsole``, headless ``run_test`` at 120×40, its default
  10,000-line rings) runs a stack whose programmed mules print a sustained total of 50,000
  lines/s (~80 characters each) for 5 s. Measured on the app's own event loop: how late a 5 ms
  asyncio ticker fires (the loop lag, a proxy for key latency; SPEC: keys answered within
  100 ms), the time from a key press ("t", every 250 ms) to its action and to the next frame,
  the console's paints and Textual's frames per second, CPU, full GC pauses, the lines ingested
  per second and whether any was lost, and this process's RSS before, half-way through, and
  after the flood.
- **Message round trip** (mule 1 → mule 2 → mule 1, 64 B, p50 and p99 over 3,000 exchanges)
  with the console open and with ``--headless``, alternating run by run; SPEC's goal is the
  console within 1.5× of headless. ``headless --events`` turns on the per-message events the
  console always asks for, which tells the cost of those events from the cost of the console.

Usage, from the repository root::

    .venv/bin/python bench/console.py [--only flood|rtt] [--rate LINES_PER_S] [--seconds S]
                                      [--mules N] [--runs N] [--count N] [--cpus LIST] [--profile FILE]

``--profile FILE`` runs cProfile on the app loop during the flood, writes the stats to FILE and
prints the top functions (the profiler slows the loop: its timings are not the bench's).
Everything runs in a temporary directory; every process started is stopped by pid, also on an
error or a Ctrl-C (the console stops its own stack when it leaves).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import io
import json
import os
import pstats
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from common import REPO, Stack, muletui_engine, parse_cpus, percentile

sys.path.insert(0, str(REPO))  # the console runs in this process, from the checkout

from muletui.config.builder import build
from muletui.config.options import parse_argv
from muletui.console.app import MuleConsole
from muletui.console.model import TEXT

SIZE = (120, 40)
TICK = 0.005  # the lag ticker's period, s
KEY_EVERY = 0.25  # seconds between two presses of "t" during the flood
PHASE_TIMEOUT = 60.0
#: What keeping one more ~80-character line costs (a str in a deque: ~200 B in
#: shared/reference/textual-live-logs.md §4.3); bounded memory grows far slower than this.
RETAINED_LINE_BYTES = 200
CONSOLE_RATIO = 1.5  # SPEC §5: messages with the console within 1.5× of headless

# -- the mule scripts ------------------------------------------------------------------------

FLOOD = '''
"""Waits for "go", then prints its share of the rate in 10 ms slices for the planned time."""
import json, sys, time, uwsgi

plan = json.load(open("flood.json"))
me = uwsgi.mule_id()
print(f"BENCH ready {me}", flush=True)
while uwsgi.mule_get_msg() != b"go":
    pass
write, clock, sleep, pad = sys.stdout.write, time.monotonic, time.sleep, "." * 56
per_slice, slices, slice_s = plan["per_slice"], plan["slices"], plan["slice"]
started, sent = clock(), 0
for k in range(1, slices + 1):
    write("".join([f"mule {me} flood {i:08d} {pad}\\n" for i in range(sent, sent + per_slice)]))
    sent += per_slice
    late = started + k * slice_s - clock()
    if late > 0:  # behind (the master reads slower than the rate): write the next slice at once
        sleep(late)
print(f"BENCH flooded {me} {sent} {started!r} {clock()!r}", flush=True)
while True:
    uwsgi.mule_get_msg()
'''

PINGER = '''
"""Mule 1: after the stack settled, times round trips through mule 2."""
import json, time, uwsgi

plan = json.load(open("rtt.json"))
time.sleep(plan["settle"])
payload, clock, send, get = b"r" * 64, time.perf_counter_ns, uwsgi.mule_msg, uwsgi.mule_get_msg
samples = []
for _ in range(plan["warmup"] + plan["count"]):
    t0 = clock()
    if not send(payload, 2) or get() != payload:
        raise SystemExit("round trip lost a message")
    samples.append(clock() - t0)
send(b"stop", 2)
samples = sorted(samples[plan["warmup"]:])
p50 = samples[len(samples) // 2] / 1000
p99 = samples[min(len(samples) - 1, len(samples) * 99 // 100)] / 1000
print(f"BENCH rtt {p50:.1f} {p99:.1f}", flush=True)
while True:
    get()
'''

ECHO = '''
"""Mule 2: sends every message back to mule 1 until "stop"."""
import uwsgi

while (message := uwsgi.mule_get_msg()) != b"stop":
    uwsgi.mule_msg(message, 1)
while True:
    uwsgi.mule_get_msg()
'''


# -- helpers -------------------------------------------------------------------------------


def rss_mib() -> tuple[float, float]:
    """This process's resident set and its peak so far, MiB."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def console_for(workdir: Path, mules: Sequence[str]) -> MuleConsole:
    plan = build(parse_argv([f"--mule={workdir / mule}" for mule in mules]))
    plan.stack.chdir = str(workdir)
    return MuleConsole(plan)


async def poll(
    predicate: Callable[[], object], what: str, every: float = 0.05, timeout: float = PHASE_TIMEOUT
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(every)


def last_line(app: MuleConsole, mule_id: int) -> str:
    """The last line the console holds from a mule: O(1), so polling it costs the loop nothing."""
    ring = app.model.log.sources.get(mule_id)
    return ring[-1][TEXT] if ring else ""


def ms(samples: Sequence[float], fraction: float) -> float:
    return percentile(sorted(samples), fraction) * 1000 if samples else float("nan")


@contextlib.contextmanager
def background(coroutine: Coroutine[object, object, None]) -> Iterator[None]:
    """Runs ``coroutine`` as a task on this loop until the block ends, however it ends."""
    task = asyncio.get_running_loop().create_task(coroutine)
    try:
        yield
    finally:
        task.cancel()


async def lag_ticker(samples: list[float]) -> None:
    """Sleeps ``TICK`` again and again, recording how late it wakes up, in s."""
    clock = time.perf_counter
    while True:
        started = clock()
        await asyncio.sleep(TICK)
        samples.append(clock() - started - TICK)


@contextlib.contextmanager
def full_collections(pauses: list[float]) -> Iterator[None]:
    """Records how long each full (generation 2) garbage collection stops this process."""
    started = 0.0

    def timed(phase: str, info: dict[str, int]) -> None:
        nonlocal started
        if info["generation"] == 2:
            if phase == "start":
                started = time.perf_counter()
            else:
                pauses.append(time.perf_counter() - started)

    gc.callbacks.append(timed)
    try:
        yield
    finally:
        gc.callbacks.remove(timed)


class KeyProbe:
    """Presses "t" as a terminal would and times it to the action, then to the next frame.

    Hooks the app instance only: its ``action_toggle_time`` and ``_display``, which every
    frame passes through (headless too: only the terminal output is skipped).
    """

    def __init__(self, app: MuleConsole) -> None:
        self.app = app
        self.pressed: list[float] = []
        self.to_action: list[float] = []
        self.to_frame: list[float] = []
        self.frames = 0
        self._unframed: list[float] = []  # press times of keys acted on, not yet on screen
        toggle, display = app.action_toggle_time, app._display

        def timed_toggle() -> None:
            now = time.perf_counter()
            pressed = self.pressed[len(self.to_action)]
            self.to_action.append(now - pressed)
            self._unframed.append(pressed)
            toggle()

        def counted_display(screen: object, renderable: object) -> None:
            display(screen, renderable)  # type: ignore[arg-type]
            if renderable is not None:
                self.frames += 1
                now = time.perf_counter()
                self.to_frame += [now - pressed for pressed in self._unframed]
                self._unframed.clear()

        app.action_toggle_time = timed_toggle  # type: ignore[method-assign]
        app._display = counted_display  # type: ignore[method-assign]

    async def press_every(self, period: float) -> None:
        while True:
            self.pressed.append(time.perf_counter())
            self.app.simulate_key("t")
            await asyncio.sleep(period)


# -- the flood -------------------------------------------------------------------------------


@dataclass
class Flood:
    """What one flood measured."""

    offered: float  # lines/s planned in total
    cap: int  # lines per ring in the console's model
    seconds: float
    mules: int
    idle_lag: list[float] = field(default_factory=list)
    lag: list[float] = field(default_factory=list)
    to_action: list[float] = field(default_factory=list)
    to_frame: list[float] = field(default_factory=list)
    paints_per_s: float = 0.0
    frames_per_s: float = 0.0
    cpu: float = 0.0  # this process (the console, its master and reader) in cores, during the flood
    gc_pauses: list[float] = field(default_factory=list)  # full (generation 2) collections, s
    written_per_s: float = 0.0  # as the mules managed it (slower if the master's reads lag)
    ingested_per_s: float = 0.0  # into the console's model, go → the last line counted
    lost: int = 0
    backlog: float = 0.0  # the last mule's last write → every line counted, s
    rss: dict[str, float] = field(default_factory=dict)
    second_half_lines: int = 0  # lines counted between the half-way RSS sample and the end


@dataclass(frozen=True)
class Marks:
    """Clocks and counters at one moment of the flood."""

    perf: float
    monotonic: float  # the clock the mules stamp their lines with
    cpu: float  # this process's CPU time
    lines: int  # lines from mules the console counted so far
    paints: int  # the console's paint-timer ticks so far

    @classmethod
    def now(cls, app: MuleConsole) -> Marks:
        lines = sum(count for source, count in app.model.log.added.items() if source)  # not None, not 0
        return cls(time.perf_counter(), time.monotonic(), time.process_time(), lines, app._paints)


async def measure_flood(
    workdir: Path, rate: float, seconds: float, mules: int, profile: Path | None
) -> Flood:
    slice_s = 0.01
    per_slice = max(1, round(rate * slice_s / mules))
    slices = round(seconds / slice_s)
    (workdir / "flood.json").write_text(
        json.dumps({"per_slice": per_slice, "slices": slices, "slice": slice_s})
    )
    (workdir / "flood.py").write_text(textwrap.dedent(FLOOD).lstrip())
    app = console_for(workdir, ["flood.py"] * mules)
    result = Flood(per_slice * mules / slice_s, app.model.log.cap, slices * slice_s, mules)
    ids = range(1, mules + 1)
    async with app.run_test(size=SIZE):
        await poll(lambda: all(last_line(app, m).startswith("BENCH ready") for m in ids), "the mules")
        await asyncio.sleep(1.0)  # the stack settles; then one second of idle lag as a baseline
        with background(lag_ticker(result.idle_lag)):
            await asyncio.sleep(1.0)
        result.rss["start"] = rss_mib()[0]
        probe = KeyProbe(app)
        profiler = cProfile.Profile() if profile else None
        go = Marks.now(app)
        with (
            background(lag_ticker(result.lag)),
            background(probe.press_every(KEY_EVERY)),
            full_collections(result.gc_pauses),
        ):
            if profiler:
                profiler.enable()
            for mule_id in ids:
                app.master.send_message(b"go", mule_id)
            await asyncio.sleep(result.seconds / 2)
            half, rss_half = Marks.now(app), rss_mib()[0]
            await poll(
                lambda: all(last_line(app, m).startswith("BENCH flooded") for m in ids),
                "the flood's end",
                every=0.02,
                timeout=result.seconds + PHASE_TIMEOUT,
            )
            if profiler:
                profiler.disable()
            counted = Marks.now(app)
        # a key still queued when run_test ends would reach an app without screens
        await poll(lambda: len(probe.to_action) == len(probe.pressed), "the last key", every=0.02)
        tally(result, app, probe, go, counted)
        result.rss |= {"half-way": rss_half, "end": rss_mib()[0], "peak": rss_mib()[1]}
        result.second_half_lines = counted.lines - half.lines
    if profiler and profile:
        profiler.dump_stats(profile)
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(25)
        print(text.getvalue(), file=sys.stderr)
    return result


def tally(result: Flood, app: MuleConsole, probe: KeyProbe, go: Marks, counted: Marks) -> None:
    """Rates and counts between "go" and the moment every line was counted."""
    elapsed = counted.perf - go.perf
    result.cpu = (counted.cpu - go.cpu) / elapsed
    result.to_action, result.to_frame = probe.to_action, probe.to_frame
    result.paints_per_s = (counted.paints - go.paints) / elapsed
    result.frames_per_s = probe.frames / elapsed
    ends = [last_line(app, m).split() for m in range(1, result.mules + 1)]  # BENCH flooded ID N T0 T1
    written = sum(int(end[3]) for end in ends)
    result.written_per_s = written / max(float(end[5]) - float(end[4]) for end in ends)
    result.lost = written + result.mules - (counted.lines - go.lines)  # + the "flooded" lines
    result.ingested_per_s = (counted.lines - go.lines) / elapsed
    result.backlog = counted.monotonic - max(float(end[5]) for end in ends)


# -- the round trip ----------------------------------------------------------------------------

MODES = ("headless", "headless --events", "console")


def write_rtt(workdir: Path, count: int) -> None:
    (workdir / "rtt.json").write_text(json.dumps({"settle": 1.0, "warmup": 500, "count": count}))
    (workdir / "pinger.py").write_text(textwrap.dedent(PINGER).lstrip())
    (workdir / "echo.py").write_text(textwrap.dedent(ECHO).lstrip())


def rtt_headless(workdir: Path, run: int, events: bool) -> tuple[float, float]:
    options = ["--events", str(workdir / f"events-{run}.jsonl")] if events else []
    name = f"rtt-headless{'-events' * events}-{run}"
    with Stack(muletui_engine(), ["pinger.py", "echo.py"], workdir, name, options=options) as stack:
        match = stack.log.wait(r"BENCH rtt (\S+) (\S+)", 1, stack.running)[0]
    return float(match[1]), float(match[2])


async def rtt_console(workdir: Path) -> tuple[float, float]:
    app = console_for(workdir, ["pinger.py", "echo.py"])
    async with app.run_test(size=SIZE):
        await poll(lambda: last_line(app, 1).startswith("BENCH rtt"), "the round trips")
        _, _, p50, p99 = last_line(app, 1).split()
    return float(p50), float(p99)


def measure_rtt(workdir: Path, runs: int, count: int) -> dict[str, list[tuple[float, float]]]:
    """Each run measures every mode, the order rotated run by run."""
    write_rtt(workdir, count)
    found: dict[str, list[tuple[float, float]]] = {mode: [] for mode in MODES}
    for run in range(runs):
        order = MODES[run % len(MODES) :] + MODES[: run % len(MODES)]
        for mode in order:
            if mode == "console":
                value = asyncio.run(rtt_console(workdir))
            else:
                value = rtt_headless(workdir, run, events=mode.endswith("--events"))
            found[mode].append(value)
            print(
                f"run {run + 1}/{runs} {mode:18} p50 {value[0]:.1f} µs p99 {value[1]:.1f} µs", file=sys.stderr
            )
    return found


# -- report ----------------------------------------------------------------------------------


def table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def row(metric: str, value: str, goal: str = "", ok: bool | None = None) -> list[str]:
    return [metric, value, goal, "" if ok is None else ("ok" if ok else "miss")]


def flood_report(flood: Flood) -> str:
    lag99, rss = ms(flood.lag, 0.99), flood.rss
    to_frame_max = max(flood.to_frame, default=float("nan")) * 1000
    grew = rss["end"] - rss["half-way"]
    unbounded = flood.second_half_lines * RETAINED_LINE_BYTES / 2**20  # if every line were kept
    rows = [
        row("metric", "value", "goal"),
        row("loop lag p50 (ms)", f"{ms(flood.lag, 0.5):.1f}"),
        row("loop lag p99 (ms)", f"{lag99:.1f}", "≤ 100 (keys, SPEC §4)", lag99 <= 100),
        row("loop lag max (ms)", f"{max(flood.lag) * 1000:.1f}"),
        row("loop lag p99 before the flood (ms)", f"{ms(flood.idle_lag, 0.99):.1f}"),
        row(
            f"key → action p50 / max (ms, {len(flood.to_action)} keys)",
            f"{ms(flood.to_action, 0.5):.1f} / {max(flood.to_action, default=0) * 1000:.1f}",
        ),
        row(
            "key → next frame p50 / max (ms)",
            f"{ms(flood.to_frame, 0.5):.1f} / {to_frame_max:.1f}",
            "≤ 100",
            to_frame_max <= 100,
        ),
        row("console paints/s", f"{flood.paints_per_s:.1f}", "12 (its timer)"),
        row("Textual frames/s", f"{flood.frames_per_s:.1f}"),
        row("CPU of the console's process (cores)", f"{flood.cpu:.2f}"),
        row(
            "full GC pauses: count, max (ms)",
            f"{len(flood.gc_pauses)}, {max(flood.gc_pauses, default=0) * 1000:.1f}",
        ),
        row("lines/s offered", f"{flood.offered:,.0f}"),
        row("lines/s written by the mules", f"{flood.written_per_s:,.0f}", "= offered"),
        row(
            "lines/s ingested by the console",
            f"{flood.ingested_per_s:,.0f}",
            "≥ 95 % of offered",
            flood.ingested_per_s >= 0.95 * flood.offered,
        ),
        row("lines lost", str(flood.lost), "0", flood.lost == 0),
        row("backlog after the last write (ms)", f"{flood.backlog * 1000:.0f}"),
        row(
            "RSS start / half-way / end (MiB)",
            f"{rss['start']:.1f} / {rss['half-way']:.1f} / {rss['end']:.1f}",
        ),
        row("RSS peak (MiB)", f"{rss['peak']:.1f}"),
        row(
            "RSS growth in the second half (MiB)",
            f"{grew:+.1f} (every line kept: +{unbounded:.1f})",
            "≤ 25 % of every line kept",
            grew <= 0.25 * unbounded,
        ),
    ]
    heading = (
        f"console under a flood: {flood.mules} mules, {flood.offered:,.0f} lines/s offered for "
        f"{flood.seconds:g} s, headless run_test {SIZE[0]}×{SIZE[1]}, rings of {flood.cap:,} lines"
    )
    return heading + "\n" + table(rows)


def rtt_report(found: dict[str, list[tuple[float, float]]], runs: int, count: int) -> str:
    base = statistics.median(p50 for p50, _ in found["headless"])
    rows = [["mode", "p50 (µs)", "p99 (µs)", "p50 / headless", "goal", ""]]
    for mode in MODES:
        p50 = statistics.median(value[0] for value in found[mode])
        p99 = statistics.median(value[1] for value in found[mode])
        ratio = p50 / base
        verdict = ("ok" if ratio <= CONSOLE_RATIO else "miss") if mode == "console" else ""
        goal = f"≤ {CONSOLE_RATIO:.2f}×" if mode == "console" else ""
        rows.append([mode, f"{p50:.1f}", f"{p99:.1f}", f"{ratio:.2f}×", goal, verdict])
    heading = f"message round trip, mule 1 → mule 2 → mule 1, 64 B: medians of {runs} runs of {count:,}"
    return heading + "\n" + table(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="round-trip runs per mode (default 3)")
    parser.add_argument("--count", type=int, default=3000, help="round trips per run (default 3000)")
    parser.add_argument(
        "--rate", type=float, default=50_000, help="lines/s, all mules together (default 50000)"
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="length of the flood (default 5)")
    parser.add_argument("--mules", type=int, default=4, help="flooding mules (default 4)")
    parser.add_argument("--cpus", help="pin this process and every stack to these CPUs (default: unpinned)")
    parser.add_argument("--profile", type=Path, help="cProfile the app loop during the flood into this file")
    parser.add_argument("--only", choices=("flood", "rtt"), help="run one of the two measurements")
    args = parser.parse_args(argv)
    cpus = parse_cpus(args.cpus)
    if cpus is not None:
        os.sched_setaffinity(0, cpus)  # the console, its stacks and the headless stacks inherit it
    reports = []
    with tempfile.TemporaryDirectory(prefix="muletui-bench-console-") as tmp:
        workdir = Path(tmp)
        if args.only in (None, "flood"):
            flood = asyncio.run(measure_flood(workdir, args.rate, args.seconds, args.mules, args.profile))
            reports.append(flood_report(flood))
        if args.only in (None, "rtt"):
            reports.append(rtt_report(measure_rtt(workdir, args.runs, args.count), args.runs, args.count))
    print("\n\n".join(reports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
