"""The console as users run it: a real process on a pseudo-terminal, driven by POSIX signals."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from conftest import ROOT, children_of, wait_gone

IDLE = "import uwsgi\nwhile True:\n    uwsgi.mule_get_msg()\n"


def drain(controller: int) -> threading.Thread:
    """Read the terminal's output until it closes, so the console never blocks writing to it."""

    def read() -> None:
        while True:
            try:
                if not os.read(controller, 65536):
                    return
            except OSError:
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return reader


def poll(condition: Callable[[], object], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_sighup_reloads_the_mules_and_sigterm_stops_the_stack(tmp_path: Path) -> None:
    (tmp_path / "idle.py").write_text(IDLE)
    log = tmp_path / "stack.log"
    controller, terminal = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30"}
    console = subprocess.Popen(
        [sys.executable, "-m", "muletui", "--mule=idle.py", "--mule=idle.py", "--log-file", str(log)],
        stdin=terminal, stdout=terminal, stderr=terminal, cwd=tmp_path, env=env, start_new_session=True,
    )
    os.close(terminal)
    reader = drain(controller)
    seen: set[int] = set()

    def mules() -> list[int]:
        found = [m for root in children_of(console.pid) for m in children_of(root)]
        seen.update(found)
        return found

    try:
        poll(lambda: len(mules()) == 2, "2 mules")
        first = set(mules())
        roots = children_of(console.pid)
        console.send_signal(signal.SIGHUP)
        poll(lambda: len(mules()) == 2 and not first & set(mules()), "2 new mules after SIGHUP")
        console.send_signal(signal.SIGTERM)
        assert console.wait(20) == 0
    finally:
        if console.poll() is None:
            console.kill()
            console.wait()
        os.close(controller)
        reader.join(5)
    assert wait_gone([*seen, *roots]) == []
    text = log.read_text()
    assert "SIGHUP received: reloading mules..." in text
    assert "SIGINT/SIGTERM received...killing workers..." in text
    assert text.rstrip().endswith("goodbye to uWSGI.")
