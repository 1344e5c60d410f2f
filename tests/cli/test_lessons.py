"""The built-in lessons: each starts and shows what its README promises; `muletui demo` lists
them; `--serve` answers on loopback."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from muletui.lessons import LESSONS_DIR, find, lessons

ROOT = Path(__file__).resolve().parents[2]


def ini(name: str) -> str:
    lesson = find(name)
    assert lesson is not None
    return str(lesson.ini)


async def test_seed(stack):
    run = await stack("--ini", ini("seed"))
    await run.line(r"^b'ciuchino'$", mule_id=1)
    await run.line("^Greetings! I am running in mule number two.$", mule_id=2, timeout=10)
    assert not run.matching("^(Greetings|Hi! I am responding)", 1)


async def test_offload(stack):
    run = await stack("--ini", ini("offload"))
    await run.line(r"^report: request 2 served$", mule_id=1, timeout=10)
    # each call runs on signal-mode mule 2 or 3, or is taken (and lost) by mule 1: the id-less race
    calls = await run.line(r"^(thumbnail\('photo-\d+.jpg', 128\) done on mule [23]|mule 1 took an id-less)", count=3)
    assert all("done on mule" in c or "lost here" in c for c in calls)


async def test_farms(stack):
    run = await stack("--ini", ini("farms"))
    await run.line(r"did job 6$", timeout=15)
    jobs = [line.split()[-1] for line in run.matching(r"^mule [123] did job \d+$")]
    assert len(jobs) == len(set(jobs)) >= 5
    assert {mid for mid, _s, t in run.lines if "did job" in t} <= {1, 2, 3}


async def test_tasks_never_run_twice(stack):
    run = await stack("--ini", ini("tasks"))
    await run.line(": no task left$", count=3, timeout=20)
    done = Counter(re.match(r"^(task \d+) done", t).group(1) for t in run.matching(r"^task \d+ done by mule"))
    assert done == Counter({f"task {n}": 1 for n in range(1, 31)})


async def test_timers(stack):
    run = await stack("--ini", ini("timers"))
    await run.line(r"rb timer \(3 s, 3 times\) on mule 1$", count=1, timeout=6)
    await run.line(r"timer \(every 2 s\) on mule 1$", count=2, timeout=6)
    assert run.matching(r"cron \(every minute\) on mule 1$")
    assert not run.matching("this never runs")


async def test_traps(stack):
    run = await stack("--ini", ini("traps"))
    await run.line(r"^signal 30 finally handled on mule 1$", count=3, timeout=15)
    assert run.matching(r"^read 16 bytes: b'a message that i'$", 3)
    assert run.matching(r"^OOOPS mule 5 \(pid: \d+\) crippled")
    await run.line(r"^mule 4's queue took \d+ messages, then mule_msg returned False$", timeout=10)
    assert run.matching(r"MULE MSG QUEUE IS FULL")


def test_the_lessons_are_demo_at_the_top_of_the_tree():
    assert Path(LESSONS_DIR) == ROOT / "demo"
    assert sorted(p.name for p in (ROOT / "demo").iterdir() if p.is_dir() and p.name != "__pycache__") == sorted(
        lesson.name for lesson in lessons()
    )
    assert not (ROOT / "muletui" / "demo").exists()


def test_the_wheel_ships_every_package_and_the_lessons():
    """pyproject lists the packages (find cannot map demo/ to muletui.demo): none may be missing."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = {
        ".".join(Path(folder).relative_to(ROOT).parts)
        for folder, _dirs, files in os.walk(ROOT / "muletui")
        if "__init__.py" in files
    }
    assert sorted(setuptools["packages"]) == sorted(packages | {"muletui.demo"})
    assert setuptools["package-dir"] == {"muletui.demo": "demo"}
    shipped = setuptools["package-data"]["muletui.demo"]
    for lesson in lessons():
        for file in Path(lesson.directory).iterdir():
            if file.is_file():
                assert any(file.match(pattern) for pattern in shipped), file


def test_muletui_demo_lists_the_lessons():
    result = subprocess.run([sys.executable, "-m", "muletui", "demo"], check=False, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    names = [line.split()[0] for line in result.stdout.splitlines()]
    assert names == [lesson.name for lesson in lessons()] == ["seed", "offload", "farms", "tasks", "timers", "traps"]
    assert "farms    Farms: a pool of mules sharing one queue" in result.stdout


def test_a_lesson_runs_headless_with_a_duration():
    result = subprocess.run(
        [sys.executable, "-m", "muletui", "demo", "tasks", "--headless", "--duration", "3"],
        check=False, capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 0
    assert "task 30 done by mule" in result.stdout and "goodbye to uWSGI." in result.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.timeout(60)
def test_serve_answers_on_loopback():
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "muletui", f"--serve=127.0.0.1:{port}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        served = re.fullmatch(rf"muletui: serving the console at (http://127\.0\.0\.1:{port}\S*) \(Ctrl-C stops it\)", first.strip())
        assert served, first
        deadline = time.monotonic() + 20
        while True:
            try:
                page = urllib.request.urlopen(served.group(1), timeout=2).read().decode()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert "muletui" in page
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
