"""Stopping a stack whatever it is doing: an app that hangs while it imports, mules that
forked processes of their own."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import alive, children_of, wait_gone

HANGING_APP = """
import time
print("importing", flush=True)
time.sleep(120)
"""

FORKER = """
import os, subprocess, time
child = os.fork()
if child == 0:
    while True:
        time.sleep(60)
sleeper = subprocess.Popen(["sleep", "120"])
print(f"forked {child} {sleeper.pid}", flush=True)
while True:
    time.sleep(60)
"""


def stack_root(run) -> int:
    deadline = time.monotonic() + 10
    while not (roots := children_of(run.process.pid)):
        assert time.monotonic() < deadline, "no stack root"
        time.sleep(0.02)
    return roots[0]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGQUIT])
def test_a_signal_stops_an_app_that_hangs_at_import(cli, write, signum) -> None:
    write("app.py", HANGING_APP)
    run = cli("--headless", "--wsgi-file=app.py", "--mule")
    run.read_until("importing")
    root = stack_root(run)
    asked = time.monotonic()
    run.process.send_signal(signum)
    assert run.wait(timeout=10) == 0
    assert time.monotonic() - asked < 5
    assert wait_gone([root]) == []
    assert "SIGINT/SIGTERM received...killing workers..." in run.output
    assert "stopped while the app was importing" in run.output
    assert "spawned uWSGI mule" not in run.output


def test_duration_applies_while_the_app_imports(cli, write) -> None:
    write("app.py", HANGING_APP)
    started = time.monotonic()
    run = cli("--headless", "--wsgi-file=app.py", "--mule", "--duration", "1")
    run.read_until("importing")
    root = stack_root(run)
    assert run.wait(timeout=10) == 0
    assert time.monotonic() - started < 6
    assert wait_gone([root]) == []
    assert "stopped while the app was importing" in run.output


def test_processes_forked_by_mules_stop_with_the_stack_and_do_not_slow_it(cli, write) -> None:
    write("forker.py", FORKER)
    run = cli("--headless", "--mule=forker.py", "--mule=forker.py")
    run.read_until(r"(forked \d+ \d+[\s\S]*){2}")
    cli.track_root(run)
    grandchildren = [int(pid) for pid in re.findall(r"forked (\d+) (\d+)", run.output) for pid in pid]
    cli.track(grandchildren)  # killed after the test, should they outlive the stack
    assert len(grandchildren) == 4 and all(alive(pid) for pid in grandchildren)
    asked = time.monotonic()
    run.process.send_signal(signal.SIGINT)
    assert run.wait() == 0
    took = time.monotonic() - asked
    assert wait_gone(grandchildren, timeout=2) == []
    assert took < 1.5, f"the stop took {took:.2f} s"


def test_a_closed_stdout_stops_the_stack_quietly(write, tmp_path: Path) -> None:
    # muletui --headless | head -1: the reader goes away, muletui stops as a Unix filter does.
    write("ticker.py", "import time\nwhile True:\n    print('tick', flush=True)\n    time.sleep(0.05)\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "muletui", "--headless", "--mule=ticker.py", "--log-file", "log.txt"],
        cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        process.stdout.readline()
        roots = children_of(process.pid)
        process.stdout.close()
        assert process.wait(timeout=10) == 0
        assert process.stderr is not None
        assert process.stderr.read() == b""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert wait_gone(roots) == []
    assert "stdout closed...killing workers..." in (tmp_path / "log.txt").read_text()
