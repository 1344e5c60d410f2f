"""The console as users run it: a real process on a pseudo-terminal, driven by POSIX signals."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import ROOT, children_of, wait_gone
from harness import cpu_seconds, drain

IDLE = "import uwsgi\nwhile True:\n    uwsgi.mule_get_msg()\n"




def poll(condition: Callable[[], object], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class ConsoleOnTerminal:
    """``muletui`` on a fresh pseudo-terminal, two idle mules, ``--log-file``; always cleaned up."""

    def __init__(self, tmp_path: Path) -> None:
        (tmp_path / "idle.py").write_text(IDLE)
        self.log = tmp_path / "stack.log"
        self.controller, terminal = pty.openpty()
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "muletui", "--mule=idle.py", "--mule=idle.py", "--log-file", str(self.log)],
            stdin=terminal, stdout=terminal, stderr=terminal, cwd=tmp_path, env=env, start_new_session=True,
        )
        os.close(terminal)
        self.reader = drain(self.controller)
        self.seen: set[int] = set()
        self.roots: list[int] = []

    def mules(self) -> list[int]:
        found = [m for root in children_of(self.process.pid) for m in children_of(root)]
        self.seen.update(found)
        self.roots = self.roots or children_of(self.process.pid)
        return found

    def close_terminal(self) -> None:
        if self.controller >= 0:
            os.close(self.controller)
            self.controller = -1
            self.reader.join(5)

    def finish(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.close_terminal()
        assert wait_gone([*self.seen, *self.roots]) == []


@pytest.mark.parametrize(
    ("signum", "line"),
    [
        (signal.SIGTERM, "SIGINT/SIGTERM received...killing workers..."),
        # Headless keeps uWSGI's meaning of SIGHUP (a reload, tests/cli); in the console nobody is left.
        (signal.SIGHUP, "SIGHUP received (the terminal is gone)...killing workers..."),
    ],
    ids=["SIGTERM", "SIGHUP"],
)
def test_a_stop_signal_stops_the_stack_and_quits(tmp_path: Path, signum: signal.Signals, line: str) -> None:
    console = ConsoleOnTerminal(tmp_path)
    try:
        poll(lambda: len(console.mules()) == 2, "2 mules")
        console.process.send_signal(signum)
        assert console.process.wait(5) == 0
    finally:
        console.finish()
    text = console.log.read_text()
    assert line in text and "reloading" not in text
    assert text.rstrip().endswith("goodbye to uWSGI.")


def test_closing_the_terminal_ends_the_console_and_its_stack_without_spinning(tmp_path: Path) -> None:
    # The console leads its own session with no controlling terminal, so no SIGHUP comes:
    # only the end of its input and EIO on its output tell it the terminal is gone.
    console = ConsoleOnTerminal(tmp_path)
    try:
        poll(lambda: len(console.mules()) == 2, "2 mules")
        time.sleep(0.5)  # a few paints in the steady state
        before = cpu_seconds(console.process.pid)
        closed_at = time.monotonic()
        console.close_terminal()
        while not (ended := os.wait4(console.process.pid, os.WNOHANG))[0]:
            assert time.monotonic() - closed_at < 5, "the console still runs 5 s after its terminal closed"
            time.sleep(0.05)
        _pid, status, usage = ended
        console.process.returncode = os.waitstatus_to_exitcode(status)
        took = time.monotonic() - closed_at
    finally:
        console.finish()
    # usage counts the console and the stack it waited for; a spinning input thread alone
    # would burn about a CPU second per second until the end.
    spent = usage.ru_utime + usage.ru_stime - before
    assert spent < 0.8 * took + 0.5, f"{spent:.2f} CPU s in {took:.2f} s"
    text = console.log.read_text()
    assert "the terminal is gone...killing workers..." in text
    assert text.rstrip().endswith("goodbye to uWSGI.")
