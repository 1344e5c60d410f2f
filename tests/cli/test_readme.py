"""README.md's commands, run as written (the console ones in a real pseudo-terminal)."""

from __future__ import annotations

import os
import pty
import re
import select
import shlex
import signal
import subprocess
import sys
import time

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
    """The console on the demo, in a real terminal, until it shows the demo's mules; then q
    quits it, as the README says, and takes the stack with it."""
    setup = sh_blocks()[0][0]
    assert setup.endswith("pip install . && muletui")
    assert "(q quits)" in README
    controller, terminal = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "36"}
    console = subprocess.Popen(  # --duration: only a backstop, should q not quit
        [sys.executable, "-m", "muletui", "--duration", "40"],
        stdin=terminal, stdout=terminal, stderr=terminal, cwd=tmp_path, env=env, start_new_session=True,
    )
    os.close(terminal)
    screen = b""
    mules: list[int] = []

    def shown() -> bool:
        text = screen.decode("utf-8", "replace")
        return "muletui" in text and "somaro.py" in text and "RUNNING" in text

    try:
        deadline = time.monotonic() + 30
        quit_at = None
        while console.poll() is None and time.monotonic() < deadline:
            if select.select([controller], [], [], 0.1)[0]:
                try:
                    screen += os.read(controller, 65536)
                except OSError:
                    break
            if len(mules) < 4:
                roots = children_of(console.pid)
                mules = [m for r in roots for m in children_of(r)] if roots else []
            if quit_at is None and len(mules) == 4 and shown():
                os.write(controller, b"q")
                quit_at = time.monotonic()
        assert quit_at is not None, screen.decode("utf-8", "replace")[-3000:]
        assert console.wait(10) == 0
        assert time.monotonic() - quit_at < 20, "q did not quit: --duration ended the console"
    finally:
        if console.poll() is None:
            console.kill()
            console.wait()
        os.close(controller)
    assert wait_gone(mules) == []


def test_running_your_own_stack_commands(cli, write, tmp_path):
    """The three commands side by side, each until its stack is up, then stopped with Ctrl-C
    (SIGINT): their own --duration 10 would only add waiting (test_cli checks --duration)."""
    write("app.py", "import uwsgi\nuwsgi.mule_msg('hi', 1)\n")
    write("somaro.py", "import uwsgi\nwhile True:\n    print('somaro got', uwsgi.mule_get_msg(), flush=True)\n")
    write("stack.ini", "[uwsgi]\nmule = somaro.py\nmule = true\n")
    lines = next(block for block in sh_blocks() if block[0].startswith("muletui --headless"))
    assert len(lines) == 3
    runs = []
    for line in lines:
        argv = shlex.split(line)[1:]
        if "--headless" not in argv:
            argv.append("--headless")
        runs.append((line, cli(*argv)))
    # what each stack shows once it is up: every mule spawned, and somaro read the app's message
    ready = [["spawned uWSGI mule 3", r"somaro got b'hi'"], ["spawned uWSGI mule 2"], ["spawned uWSGI mule 3"]]
    for (_line, run), patterns in zip(runs, ready, strict=True):
        for pattern in patterns:
            run.read_until(pattern)
    for _line, run in runs:
        run.process.send_signal(signal.SIGINT)
    for line, run in runs:
        assert run.wait(15) == 0, (line, run.output)
        assert "spawned uWSGI mule 1" in run.output and "goodbye to uWSGI." in run.output, (line, run.output)
    assert (tmp_path / "run.jsonl").read_text().count('"kind": "mule_spawned"') == 3
    assert "spawned uWSGI mule 3" in (tmp_path / "run.log").read_text()
