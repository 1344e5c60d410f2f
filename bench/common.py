"""What every bench script shares: launching a stack under each engine, reading its output,
stopping it by pid, alternating the engines, and the table of medians with SPEC §5's goals.

The scripts in this directory import it by name (``python bench/X.py`` puts ``bench/`` first on
``sys.path``). Nothing here is specific to one measurement.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

REPO = Path(__file__).resolve().parent.parent
#: ``$UWSGI``, else the ``uwsgi`` on PATH (``pip install pyuwsgi``), else where earlier sessions kept it.
DEFAULT_UWSGI = os.environ.get("UWSGI") or shutil.which("uwsgi") or "/tmp/uw/bin/uwsgi"

#: Seconds a stack gets for a whole phase before the run is declared broken.
PHASE_TIMEOUT = 60.0
#: Seconds a stack gets to stop after SIGINT before its processes are killed.
STOP_GRACE = 10.0
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

#: The smallest WSGI app: uWSGI refuses to start without one (and without a socket).
APP = """
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b""]
"""

# -- engines -------------------------------------------------------------------------------

#: ``command(mules, app, options)``: the argv that starts a stack. A mule is a program
#: (``x.py``) or ``""`` for a signal-mode mule; ``app`` a file imported once before the mules
#: fork (``None``: none where the engine allows it); ``options`` more uWSGI options.
Command = Callable[[Sequence[str], "str | None", Sequence[str]], list[str]]


@dataclass(frozen=True)
class Engine:
    """How to launch a stack of mule scripts under one engine."""

    name: str
    command: Command
    env: dict[str, str]


def mule_options(mules: Sequence[str]) -> list[str]:
    """``--mule=PROGRAM``, or a bare ``--mule`` for a signal-mode mule (the value is optional)."""
    return [f"--mule={mule}" if mule else "--mule" for mule in mules]


def uwsgi_engine(binary: str) -> Engine:
    # uWSGI refuses to start without a socket ("The -s/--socket option is missing"); a
    # loopback HTTP socket on a free port with a trivial app is the smallest stack it accepts.
    def command(mules: Sequence[str], app: str | None, options: Sequence[str]) -> list[str]:
        head = [binary, "--master", "--http-socket", "127.0.0.1:0", "--wsgi-file", app or "app.py"]
        return head + list(options) + mule_options(mules)

    return Engine("uWSGI", command, dict(os.environ))


def muletui_engine() -> Engine:
    """muletui run from this checkout, as installed: its modules compiled to bytecode first.

    ``pip install`` compiles them; a checkout run with ``PYTHONDONTWRITEBYTECODE`` set (as on
    these machines) would compile about 40 modules in the master and again in the stack root at
    every start, which costs start-up time and about 2 MiB of PSS that no installed muletui pays.
    The cache goes where Python puts it, ``muletui/**/__pycache__`` (ignored by git).
    """
    compileall.compile_dir(REPO / "muletui", quiet=2)

    def command(mules: Sequence[str], app: str | None, options: Sequence[str]) -> list[str]:
        head = [sys.executable, "-m", "muletui", "--headless"] + (["--wsgi-file", app] if app else [])
        return head + list(options) + mule_options(mules)

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return Engine("muletui", command, env)


def parse_cpus(text: str | None) -> set[int] | None:
    """``--cpus 0,1`` → ``{0, 1}``; ``None`` (unpinned) when not given."""
    return {int(cpu) for cpu in text.split(",")} if text else None


# -- processes -----------------------------------------------------------------------------


def alive(pid: int) -> bool:
    """``True`` if ``pid`` exists and is not a zombie (a zombie has finished dying)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far, all its threads together (10 ms resolution)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime, stime (fields 14, 15)


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
        """Every line read so far that matches (call :meth:`wait` or :meth:`refresh` first)."""
        regex = re.compile(pattern)
        return [match for line in self.lines if (match := regex.search(line))]

    def refresh(self) -> None:
        """Read what the stack wrote since the last look."""
        self._read()

    def wait(
        self, pattern: str, count: int, alive_check: Callable[[], bool], timeout: float = PHASE_TIMEOUT
    ) -> list[re.Match[str]]:
        """Wait until ``count`` lines match; raise with the log's tail on timeout or early exit."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
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
        self,
        engine: Engine,
        mules: Sequence[str],
        workdir: Path,
        name: str,
        cpus: set[int] | None = None,
        *,
        app: str | None = None,
        options: Sequence[str] = (),
    ) -> None:
        self.engine = engine
        self._cpus = cpus
        self.log = LogWatch(workdir / f"{name}.log")
        self._argv = engine.command(mules, app, options)
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


# -- results and the report ----------------------------------------------------------------


@dataclass
class Results:
    """Every measured value, per metric and per engine, in run order."""

    values: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def add(self, metric: str, engine: str, value: float) -> None:
        self.values.setdefault(metric, {}).setdefault(engine, []).append(value)

    def median(self, metric: str, engine: str) -> float | None:
        values = self.values.get(metric, {}).get(engine)
        return statistics.median(values) if values else None


@dataclass(frozen=True)
class Goal:
    """SPEC §5's goal for one metric: a same-session ratio, or an absolute bound on muletui."""

    higher_is_better: bool
    ratio: float = 1.0  # muletui/uWSGI must be ≥ this (higher is better) or ≤ this (lower is better)
    bound: float | None = None  # if set, the goal is instead: muletui's median ≤ bound
    unit: str = "s"  # of the bound, as printed

    def text(self) -> str:
        if self.bound is not None:
            return f"≤ {self.bound:g} {self.unit}"
        return f"{'≥' if self.higher_is_better else '≤'} {self.ratio:.2f}×"

    def verdict(self, muletui: float, ratio: float | None) -> str:
        """``ok``, ``miss``, or ``noise`` when a ratio goal is missed by less than SPEC's ~20 %."""
        if self.bound is not None:
            return "ok" if muletui <= self.bound else "miss"
        if ratio is None:
            return ""
        if (ratio >= self.ratio) if self.higher_is_better else (ratio <= self.ratio):
            return "ok"
        near = (ratio >= self.ratio * 0.8) if self.higher_is_better else (ratio <= self.ratio * 1.2)
        return "noise" if near else "miss"


def _format(value: float | None) -> str:
    if value is None:
        return "—"
    if value >= 10_000:
        return f"{value / 1000:.1f}k"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3f}"


def report(
    results: Results, table: dict[str, Goal], engines: list[Engine], runs: int, notes: Sequence[str] = ()
) -> str:
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
                "" if cand is None else goal.verdict(cand, ratio),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    heading = f"medians of the runs measured ({runs} planned per engine, alternating)"
    return "\n".join([heading, *lines, *([""] if notes else []), *notes])


def alternating(engines: list[Engine], runs: int) -> Iterator[tuple[int, list[Engine]]]:
    """Run ``i`` lists the engines in order, run ``i + 1`` reversed, so neither always goes first."""
    for run in range(runs):
        yield run, engines if run % 2 == 0 else engines[::-1]


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of an already sorted sequence (``0.5`` is the median)."""
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def write_scripts(workdir: Path, scripts: dict[str, str]) -> None:
    """Write each scenario script, dedented, into the run's temporary directory."""
    for name, text in scripts.items():
        (workdir / name).write_text(textwrap.dedent(text).lstrip())


def add_engine_arguments(parser: argparse.ArgumentParser, quick_help: str) -> None:
    """The options every side-by-side script shares: --runs, --quick, --uwsgi, --cpus."""
    parser.add_argument("--runs", type=int, help="runs per engine (default 5, 2 with --quick)")
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--uwsgi", default=DEFAULT_UWSGI, help=f"the uwsgi binary (default {DEFAULT_UWSGI})")
    parser.add_argument(
        "--cpus", help="pin both stacks to these CPUs, e.g. 0 or 0,1 (default: unpinned, as in SPEC §5)"
    )


def require_uwsgi(parser: argparse.ArgumentParser, binary: str) -> None:
    if not os.access(binary, os.X_OK):
        parser.error(f"no uwsgi binary at {binary} (use --uwsgi PATH or $UWSGI)")
