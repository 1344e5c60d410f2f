"""What the Pilot tests of the console share: a real stack in ``tmp_path``, and polling."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path

from muletui.console.app import MuleConsole
from muletui.console.model import TEXT

APP = """
import uwsgi
def on17(signum):
    print("handled signal", signum, "on mule", uwsgi.mule_id(), flush=True)
uwsgi.register_signal(17, "mule2", on17)
uwsgi.register_signal(18, "mule2", lambda n: print("tick", flush=True))
uwsgi.add_timer(18, 1)
uwsgi.register_signal(19, "mule2", lambda n: print("fs", flush=True))
uwsgi.add_file_monitor(19, WATCHED)
"""

ECHO = """
import uwsgi
while True:
    print("echo got", uwsgi.mule_get_msg(), flush=True)
"""


async def until(pilot, predicate, timeout: float = 10.0, what: str = "condition") -> None:
    """Poll ``predicate`` (every 50 ms) until it is true; wait on a condition, never a fixed time:
    the suite runs in parallel (pytest-xdist), on a busy machine."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


async def painted(pilot, paints: int = 2, timeout: float = 10.0) -> None:
    """Wait until the console has painted ``paints`` more times (12 a second when it keeps up)."""
    app = pilot.app
    target = app._paints + paints
    await until(pilot, lambda: app._paints >= target, timeout, f"{paints} paints")


async def ended(app: MuleConsole, timeout: float = 15.0) -> None:
    """Wait until ``app`` quit (its stack stopped): without Pilot, which needs a screen."""
    deadline = time.monotonic() + timeout
    while app.is_running:
        if time.monotonic() > deadline:
            raise AssertionError("the console did not quit")
        await asyncio.sleep(0.05)


def files(tmp_path: Path) -> tuple[str, str, Path]:
    watched = tmp_path / "watched"
    watched.mkdir()
    (tmp_path / "app.py").write_text(APP.replace("WATCHED", repr(str(watched))))
    (tmp_path / "echo.py").write_text(ECHO)
    return str(tmp_path / "app.py"), str(tmp_path / "echo.py"), watched


def deaf_mule(tmp_path: Path) -> str:
    """A programmed mule that never reads its queue."""
    deaf = tmp_path / "deaf.py"
    deaf.write_text("import time\ntime.sleep(60)\n")
    return str(deaf)


def log_texts(app: MuleConsole) -> list[str]:
    return [line[TEXT] for line in app.model.log.all]


def drain(controller: int) -> threading.Thread:
    """Read a pseudo-terminal's output until it closes, so the console never blocks writing to it."""

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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
