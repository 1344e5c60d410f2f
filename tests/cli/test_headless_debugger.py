"""``muletui --headless`` with a terminal on stdin: a mule's breakpoint stops it at a ``(Pdb)``
prompt on that terminal, one mule at a time (issue 13). Run in a real pseudo-terminal that is
muletui's controlling terminal, as a person's would be, so ``^C`` is the tty's SIGINT."""

from __future__ import annotations

import codecs
import contextlib
import fcntl
import os
import pty
import re
import select
import signal
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, children_of, wait_gone

BREAKS = """
import time, uwsgi
x = 42
print("mule", uwsgi.mule_id(), "starting", flush=True)
breakpoint()
y = x + 1
print("mule", uwsgi.mule_id(), "after the breakpoint", y, flush=True)
while True:
    time.sleep(3600)
"""


def _controlling_terminal() -> None:
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class PtyRun:
    """``muletui --headless ...`` with a pseudo-terminal as its stdin, stdout and stderr."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.controller, terminal = pty.openpty()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "muletui", "--headless", *argv],
            stdin=terminal, stdout=terminal, stderr=terminal, cwd=cwd, env=env,
            preexec_fn=_controlling_terminal,  # noqa: PLW1509 - setsid and TIOCSCTTY must run in the child
        )
        os.close(terminal)
        self.output = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.stack: set[int] = set()

    def type(self, text: str) -> None:
        os.write(self.controller, text.encode())

    def read_until(self, pattern: str, timeout: float = 15.0) -> re.Match[str]:
        """Read the terminal until ``pattern`` matches what it showed after the last match's start."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while (match := regex.search(self.output)) is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.controller], [], [], remaining)[0]:
                raise AssertionError(f"timed out waiting for /{pattern}/ on the terminal:\n{self.output}")
            try:
                chunk = os.read(self.controller, 1 << 16)
            except OSError:  # EIO: every process left the terminal
                chunk = b""
            if not chunk:
                raise AssertionError(f"the terminal closed before /{pattern}/:\n{self.output}")
            self.output += self._decoder.decode(chunk).replace("\r\n", "\n")
        self.stack.update(int(pid) for pid in re.findall(r"spawned uWSGI mule \d+ \(pid: (\d+)\)", self.output))
        self.stack.update(children_of(self.process.pid))
        return match

    def drain(self) -> None:
        """Everything left on the terminal, until every process closed it."""
        while select.select([self.controller], [], [], 5)[0]:
            try:
                chunk = os.read(self.controller, 1 << 16)
            except OSError:
                return
            if not chunk:
                return
            self.output += self._decoder.decode(chunk).replace("\r\n", "\n")


@pytest.fixture
def headless_on_a_terminal(tmp_path: Path) -> Iterator:
    runs: list[PtyRun] = []

    def _start(*argv: str, **env: str) -> PtyRun:
        environment = {key: value for key, value in os.environ.items() if key != "PYTHONBREAKPOINT"}
        environment |= {"PYTHONPATH": str(ROOT), "TERM": "xterm", **env}
        run = PtyRun(list(argv), tmp_path, environment)
        runs.append(run)
        return run

    yield _start
    for run in runs:
        if run.process.poll() is None:
            run.process.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                run.process.wait(10)
        if run.process.poll() is None:
            run.process.kill()
            run.process.wait()
        os.close(run.controller)
    survivors = wait_gone(sorted(pid for run in runs for pid in run.stack))
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)
    assert not survivors, f"processes outlived muletui: {survivors}"


def test_a_breakpoint_stops_at_a_prompt_on_the_terminal(headless_on_a_terminal, write):
    script = write("breaks.py", BREAKS)
    run = headless_on_a_terminal(f"--mule={script}")
    run.read_until(rf"mule 1 stopped at {script}:6 in <module> \(MainThread\); the \(Pdb\) prompt is yours")
    run.read_until(r"\n-> y = x \+ 1\n\(Pdb\) $")
    run.type("p x\n")
    run.read_until(r"\(Pdb\) p x\n42\n\(Pdb\) $")
    run.type("c\n")
    run.read_until(r"\| mule 1 after the breakpoint 43\n")


def test_a_second_mule_waits_for_the_terminal_then_gets_it(headless_on_a_terminal, write):
    script = write("breaks.py", BREAKS)
    run = headless_on_a_terminal(f"--mule={script}", f"--mule={script}")
    waits = run.read_until(rf"mule (\d) stopped at {script}:6 and waits: mule (\d) holds the terminal")
    second, first = int(waits[1]), int(waits[2])
    assert {first, second} == {1, 2}
    run.read_until(r"\(Pdb\) $")
    run.type("p uwsgi.mule_id()\n")
    run.read_until(rf"\(Pdb\) p uwsgi.mule_id\(\)\n{first}\n\(Pdb\) $")
    run.type("c\n")
    run.read_until(rf"mule {second} stopped at {script}:6 in <module> \(MainThread\); the \(Pdb\) prompt is yours")
    run.read_until(r"-> y = x \+ 1\n\(Pdb\) $")
    run.type("p uwsgi.mule_id()\n")
    run.read_until(rf"\(Pdb\) p uwsgi.mule_id\(\)\n{second}\n\(Pdb\) $")
    run.type("c\n")
    run.read_until(rf"mule {second} after the breakpoint 43\n")
    assert f"mule {first} after the breakpoint 43\n" in run.output


def test_ctrl_c_at_a_prompt_stops_the_stack_at_once(headless_on_a_terminal, write):
    run = headless_on_a_terminal(f"--mule={write('breaks.py', BREAKS)}")
    run.read_until(r"\(Pdb\) $")
    stack = sorted(run.stack)
    assert len(stack) == 2  # the stack root and mule 1
    pressed = time.monotonic()
    run.type("\x03")  # the tty's SIGINT to its foreground job: muletui
    assert run.process.wait(10) == 0
    assert wait_gone(stack) == []
    took = time.monotonic() - pressed
    run.drain()
    assert "SIGINT/SIGTERM received...killing workers..." in run.output
    assert took < 1.0, f"^C at a prompt took {took:.2f} s to stop the stack"


def test_pythonbreakpoint_0_is_respected(headless_on_a_terminal, write):
    run = headless_on_a_terminal(f"--mule={write('breaks.py', BREAKS)}", PYTHONBREAKPOINT="0")
    run.read_until(r"mule 1 after the breakpoint 43\n")
    assert "(Pdb)" not in run.output


def test_without_a_terminal_a_breakpoint_warns_and_goes_on(cli, write):
    run = cli("--headless", f"--mule={write('breaks.py', BREAKS)}")  # stdin: /dev/null
    run.read_until(r"mule 1 after the breakpoint 43\n")
    assert "breaks.py:5 skipped: no terminal to debug on" in run.output
    assert "(Pdb)" not in run.output
