"""Shared test harness: real stacks, in-process (engine) or as a ``muletui`` subprocess (CLI).

Every stack a test starts is stopped by the harness, and the harness fails the test if any
process it started (stack root, mule incarnations) is still alive afterwards.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import re
import select
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from muletui.config.builder import build
from muletui.config.options import parse_argv
from muletui.console.app import MuleConsole
from muletui.engine import events
from muletui.engine.lifecycle import RespawnPolicy
from muletui.engine.master import Master

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``long_running`` first, the rest in their order: pytest-xdist (``-n``, see
    pyproject.toml) deals tests out in collection order, so a long test started last would keep
    one worker busy after the others are done."""
    items.sort(key=lambda item: item.get_closest_marker("long_running") is None)


def alive(pid: int) -> bool:
    """``True`` if ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_gone(pids: list[int], timeout: float = 5.0) -> list[int]:
    """Poll until every pid is gone; returns those still alive after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = [pid for pid in pids if alive(pid)]
        if not left:
            return []
        time.sleep(0.02)
    return [pid for pid in pids if alive(pid)]


class StackRun:
    """A running in-process stack and everything it published so far."""

    def __init__(self, master: Master) -> None:
        self.master = master
        self.events: list[events.Event] = []
        self.lines: list[tuple[int, str, str]] = []  # (mule id, stream, text)
        self.pids: set[int] = set()
        self._changed = asyncio.Event()
        master.bus.add_sink(self._record)

    def _record(self, event: events.Event) -> None:
        self.events.append(event)
        if isinstance(event, events.OutputLines):
            self.lines += [(event.mule_id, event.stream, line.text) for line in event.lines]
        elif isinstance(event, events.MasterLog):
            self.lines.append((0, "log", event.text))
        elif isinstance(event, events.MuleSpawned | events.WorkerSpawned):
            self.pids.add(event.pid)
        elif isinstance(event, events.StackReady):
            self.pids.add(event.root_pid)
        self._changed.set()

    def texts(self, mule_id: int | None = None) -> list[str]:
        return [text for mid, _s, text in self.lines if mule_id is None or mid == mule_id]

    def matching(self, pattern: str, mule_id: int | None = None) -> list[str]:
        regex = re.compile(pattern)
        return [text for text in self.texts(mule_id) if regex.search(text)]

    def of(self, kind: type[events.Event]) -> list:
        return [event for event in self.events if isinstance(event, kind)]

    async def until(self, predicate, timeout: float = 10.0, what: str = "condition") -> None:
        """Wait (event-driven) until ``predicate()`` is true; fail with the log on timeout."""
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                tail = "\n".join(f"  [{m}:{s}] {t}" for m, s, t in self.lines[-40:])
                raise AssertionError(f"timed out waiting for {what}; last lines:\n{tail}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.5))

    async def line(self, pattern: str, mule_id: int | None = None, count: int = 1, timeout: float = 10.0) -> list[str]:
        """Wait until ``count`` lines match ``pattern``; returns the matches."""
        await self.until(lambda: len(self.matching(pattern, mule_id)) >= count, timeout, f"{count}× /{pattern}/")
        return self.matching(pattern, mule_id)


@pytest.fixture
def write(tmp_path: Path):
    """Write a dedented file into the test's directory; returns its path as a string."""

    def _write(name: str, text: str) -> str:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return str(path)

    return _write


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator:
    """``await stack("--mule=x.py", ...)`` starts a real stack in this loop; stopped afterwards."""
    runs: list[StackRun] = []

    async def _start(
        *argv: str, respawn: RespawnPolicy | None = None, detail_events: bool = False, debugger: bool = False
    ) -> StackRun:
        plan = build(parse_argv(list(argv)))
        if plan.stack.chdir is None:
            plan.stack.chdir = str(tmp_path)
        master = Master(plan.stack, respawn=respawn, detail_events=detail_events)
        master.debugger = debugger
        run = StackRun(master)
        runs.append(run)
        await master.start()
        return run

    yield _start
    for run in runs:
        await run.master.stop()
    survivors = wait_gone([pid for run in runs for pid in run.pids])
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)
    assert not survivors, f"processes outlived their stack: {survivors}"


class CliRun:
    """``muletui`` as a subprocess, stdout and stderr merged into ``output``."""

    def __init__(self, argv: list[str], cwd: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "muletui", *argv],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        self.output = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def wait(self, timeout: float = 30.0) -> int:
        out, _ = self.process.communicate(timeout=timeout)
        self.output += out
        return self.process.returncode

    def read_until(self, pattern: str, timeout: float = 15.0) -> str:
        """Read stdout until ``pattern`` matches the output so far; returns it.

        Waits in ``select`` on the (blocking) pipe and decodes bytes itself: a non-blocking
        text-mode ``read()`` raises ``TypeError`` when nothing is ready (CPython 3.11), and
        :meth:`wait`'s ``communicate()`` needs the pipe blocking afterwards.
        """
        regex = re.compile(pattern)
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        deadline = time.monotonic() + timeout
        while not regex.search(self.output):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise AssertionError(f"timed out waiting for /{pattern}/ in muletui output:\n{self.output}")
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise AssertionError(f"muletui closed its output before /{pattern}/:\n{self.output}")
            self.output += self._decoder.decode(chunk)
        return self.output

    def pids(self) -> list[int]:
        """Every pid the output announced (stack root excluded: it is found by ``/proc``)."""
        return [int(p) for p in re.findall(r"spawned uWSGI mule \d+ \(pid: (\d+)\)", self.output)]


def children_of(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


@pytest.fixture
def cli(tmp_path: Path) -> Iterator:
    """``cli("--mule=x.py", "--headless")`` runs muletui in ``tmp_path``; killed and checked after."""
    runs: list[CliRun] = []
    roots: list[int] = []

    def _start(*argv: str) -> CliRun:
        run = CliRun(list(argv), tmp_path)
        runs.append(run)
        return run

    def _track_root(run: CliRun) -> None:
        roots.extend(children_of(run.process.pid))

    _start.track_root = _track_root  # type: ignore[attr-defined]
    _start.track = roots.extend  # type: ignore[attr-defined]  # more pids to check (and kill) after
    yield _start
    pids = []
    for run in runs:
        if run.process.poll() is None:
            run.process.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                run.wait(10)
        if run.process.poll() is None:
            run.process.kill()
            run.process.wait()
        pids += run.pids()
    survivors = wait_gone(pids + roots)
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)
    assert not survivors, f"processes outlived muletui: {survivors}"


@pytest.fixture
def console(tmp_path: Path) -> Iterator:
    """``console(*argv)`` builds the app in ``tmp_path``; every process it ran must be gone after."""
    apps: list[MuleConsole] = []
    pids: list[int] = []

    def _make(*argv: str) -> MuleConsole:
        plan = build(parse_argv(list(argv)))
        plan.stack.chdir = str(tmp_path)
        app = MuleConsole(plan)
        app.bus.add_sink(lambda e: pids.append(e.pid) if isinstance(e, events.MuleSpawned) else None)
        apps.append(app)
        return app

    yield _make
    assert wait_gone(pids) == [], "a mule outlived the console"
