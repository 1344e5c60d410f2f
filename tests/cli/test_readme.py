"""README.md's commands, run as written (the console ones in a real pseudo-terminal)."""

from __future__ import annotations

import os
import pty
import re
import select
import shlex
import subprocess
import sys
import time
from pathlib import Path

from conftest import ROOT, children_of, wait_gone

README = (ROOT / "README.md").read_text()


def sh_blocks() -> list[list[str]]:
    """The lines of every ```sh block, comments dropped."""
    blocks = re.findall(r"```sh\n(.*?)```", README, re.DOTALL)
    return [[line.split("  #")[0].strip() for line in block.splitlines() if line.strip()] for block in blocks]


def test_ci_runs_exactly_the_readmes_test_command():
    test_command = sh_blocks()[1][0]
    assert test_command.endswith("python -m pytest")
    assert (ROOT / ".ci" / "run").read_text().splitlines()[-1] == test_command


def test_the_setup_command_ends_in_muletui_which_opens_the_console_on_the_demo(tmp_path):
    setup = sh_blocks()[0][0]
    assert setup.endswith("pip install . && muletui")
    controller, terminal = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "36"}
    console = subprocess.Popen(
        [sys.executable, "-m", "muletui", "--duration", "6"],
        stdin=terminal, stdout=terminal, stderr=terminal, cwd=tmp_path, env=env, start_new_session=True,
    )
    os.close(terminal)
    screen = b""
    mules: list[int] = []
    try:
        deadline = time.monotonic() + 30
        while console.poll() is None and time.monotonic() < deadline:
            if select.select([controller], [], [], 0.2)[0]:
                try:
                    screen += os.read(controller, 65536)
                except OSError:
                    break
            if not mules:
                roots = children_of(console.pid)
                mules = [m for r in roots for m in children_of(r)] if roots else []
        assert console.wait(10) == 0
    finally:
        if console.poll() is None:
            console.kill()
            console.wait()
        os.close(controller)
    text = screen.decode("utf-8", "replace")
    assert "muletui" in text and "somaro.py" in text and "RUNNING" in text
    assert len(mules) == 4 and wait_gone(mules) == []


def test_running_your_own_stack_commands(tmp_path, write):
    write("app.py", "import uwsgi\nuwsgi.mule_msg('hi', 1)\n")
    write("somaro.py", "import uwsgi\nwhile True:\n    print('somaro got', uwsgi.mule_get_msg(), flush=True)\n")
    write("stack.ini", "[uwsgi]\nmule = somaro.py\nmule = true\n")
    lines = next(block for block in sh_blocks() if block[0].startswith("muletui --headless"))
    assert len(lines) == 3
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for line in lines:
        argv = shlex.split(line)[1:]
        if "--headless" not in argv:
            argv.append("--headless")
        if "--duration" not in argv:
            argv += ["--duration", "2"]
        result = subprocess.run(
            [sys.executable, "-m", "muletui", *argv], check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30
        )
        assert result.returncode == 0, (line, result.stdout, result.stderr)
        assert "spawned uWSGI mule 1" in result.stdout
    assert Path(tmp_path / "run.jsonl").read_text().count('"kind": "mule_spawned"') == 3
    assert "spawned uWSGI mule 3" in Path(tmp_path / "run.log").read_text()
