"""The built-in lessons: each starts and shows what its README promises, at a pace a class can
follow; each README guides the console; `muletui demo` lists them; `--serve` answers on loopback."""

from __future__ import annotations

import asyncio
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

from muletui.cli import demo_argv, demo_command
from muletui.config.builder import build
from muletui.config.options import parse_argv
from muletui.console.actions import ACTIONS
from muletui.engine import events
from muletui.ipc.request_client import send_request
from muletui.lessons import LESSONS_DIR, Lesson, find, lesson_for_ini, lesson_for_plan, lessons

ROOT = Path(__file__).resolve().parents[2]


def ini(name: str) -> str:
    lesson = find(name)
    assert lesson is not None
    return str(lesson.ini)


async def check_seed(stack):
    run = await stack("--ini", ini("seed"))
    await run.line(r"^b'ciuchino'$", mule_id=1)
    await run.line("^Greetings! I am running in mule number two.$", mule_id=2, timeout=10)
    assert not run.matching("^(Greetings|Hi! I am responding)", 1)


async def check_offload(stack):
    run = await stack("--ini", ini("offload"))
    await run.line(r"^report: request 2 served$", mule_id=1, timeout=10)
    # each call runs on signal-mode mule 2 or 3, or is taken (and lost) by mule 1: the id-less race
    calls = await run.line(r"^(thumbnail\('photo-\d+.jpg', 128\) done on mule [23]|mule 1 took an id-less)", count=3)
    assert all("done on mule" in c or "lost here" in c for c in calls)


async def check_farms(stack):
    run = await stack("--ini", ini("farms"))
    await run.line(r"did job 6$", timeout=15)  # a job a second, 2.5 s each
    jobs = [line.split()[-1] for line in run.matching(r"^mule [123] did job \d+$")]
    assert len(jobs) == len(set(jobs)) >= 5
    assert {mid for mid, _s, t in run.lines if "did job" in t} <= {1, 2, 3}


async def check_tasks_never_run_twice_and_keep_coming(stack):
    started = time.monotonic()
    run = await stack("--ini", ini("tasks"))
    await run.line(r"^task 1 taken by mule [123]; lock 0 released", timeout=10)
    assert time.monotonic() - started >= 2.5  # the holder shows for seconds, not before the first paint
    await run.line(r"^mule [123]: the list ran out, adding tasks 6-10$", timeout=25)
    await run.line(r"^task 6 taken by mule", timeout=10)
    taken = Counter(re.match(r"^(task \d+) taken", t).group(1) for t in run.matching(r"^task \d+ taken by mule"))
    assert taken == Counter({f"task {n}": 1 for n in range(1, 7)})
    holds = run.matching(r"^mule [123] holds lock 0")
    assert len(holds) in (6, 7)  # one hold per task taken, and maybe the next under way


async def check_timers(stack):
    run = await stack("--ini", ini("timers"))
    await run.line(r"rb timer \(5 s, 5 times\) on mule 1$", count=1, timeout=7)
    await run.line(r"timer \(every 2 s\) on mule 1$", count=2, timeout=6)
    assert run.matching(r"cron \(every minute\) on mule 1$")
    assert not run.matching("this never runs")


async def check_traps_each_on_its_beat_and_again(stack):
    run = await stack("--ini", ini("traps"))
    deaf = r"^waiting with mule_get_msg\(\): signals=True"
    listening = r"^now waiting with mule_get_msg\(signals=False\)"
    await run.line(r"^read 16 bytes: b'a message that i'$", 3, timeout=6)
    assert run.matching(r"^OOOPS mule 5 \(pid: \d+\) crippled")
    # trap 1: 14 s of piling up (a signal every 2 s), then they all run when mule 1 listens
    await run.line(listening, 1, timeout=20)
    texts = run.texts(1)
    assert not any("finally handled" in t for t in texts[: texts.index(run.matching(listening, 1)[0])])
    await run.line(r"^signal 30 finally handled on mule 1$", 1, count=6, timeout=3)
    await run.line(r"^mule 4's queue took \d+ messages, then mule_msg returned False$", timeout=10)
    assert run.matching(r"MULE MSG QUEUE IS FULL")
    await run.line(deaf, 1, count=2, timeout=10)  # and deaf again: the trap repeats


async def check_requests(stack):
    """The README's steps, with the request client the console's h uses."""
    run = await stack("--ini", ini("requests"))
    listener = run.master.listeners.sockets[0]
    assert listener.bound == "127.0.0.1:9090"
    for path in ("/mail?to=ann", "/thumbnail?photo=cat.jpg", "/tick"):
        answer = await send_request("http", listener.bound, "GET", path)
        assert answer.status == "HTTP/1.1 200 OK" and answer.body.startswith("worker ")
    await run.line(r"^sent: mail to ann$", mule_id=1)
    await run.line(r"^made a thumbnail of cat\.jpg on mule 2$", mule_id=2)
    await run.line(r"^worker [12] got signal 30 between requests$", count=2)
    assert len(run.matching(r"GET /(mail|thumbnail|tick)\S* => generated \d+ bytes")) == 3


async def check_debug(stack):
    """The README's steps, through the engine calls the console's keys make."""
    run = await stack("--ini", ini("debug"), debugger=True)
    await run.line(r"^order 2: 3 x 4\.50 = 7\.50$", mule_id=1)  # the bug to fix
    await run.line(r"^stuck\.py: fetching the report\.\.\.$", mule_id=2)
    await run.until(lambda: run.master.snapshot().mules[2].signals_handled >= 1, what="a tick")
    run.master.raise_signal(21)  # g, 21, Enter: mule 3 stops at its breakpoint
    await run.until(lambda: run.of(events.DebuggerStopped), what="the stop")
    stop = run.of(events.DebuggerStopped)[0]
    assert (stop.mule_id, os.path.basename(stop.file), stop.line) == (3, "app.py", 19)
    assert run.master.agents.type_line(3, "p seen")
    await run.until(lambda: "{'ticks': " in "".join(e.text for e in run.of(events.DebuggerOutput)), what="p seen")
    assert run.master.agents.type_line(3, "c")
    await run.line(r"^audit done: \{'ticks': \d+\}$", mule_id=3)
    stacks = await run.master.agents.stacks(2)  # w on mule 2
    assert [f.function for f in stacks[0].frames if not f.internal] == ["<module>", "fetch_report", "wait_for"]
    answer = await run.master.agents.evaluate(2, 'open(REPORT, "w").write("all sold")')  # e on mule 2
    assert answer.ok and answer.text == "8"
    await run.line(r"^stuck\.py: got the report: 'all sold'$", mule_id=2)


@pytest.mark.long_running
async def test_every_lesson_runs_as_its_readme_says(stack):
    """The lessons are paced for a class (seconds per step), so they run side by side."""
    checks = [
        check_seed,
        check_offload,
        check_farms,
        check_tasks_never_run_twice_and_keep_coming,
        check_timers,
        check_traps_each_on_its_beat_and_again,
        check_requests,
        check_debug,
    ]
    results = await asyncio.gather(*(check(stack) for check in checks), return_exceptions=True)
    failed = [result for result in results if isinstance(result, Exception)]
    if failed:
        raise ExceptionGroup("lessons that did not run as their README says", failed)


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
    lines = result.stdout.splitlines()
    names = [line.split()[0] for line in lines[: len(lessons())]]
    assert names == [lesson.name for lesson in lessons()] == ["seed", "offload", "farms", "tasks", "timers", "traps", "requests", "debug"]
    assert "farms     Farms: a pool of mules sharing one queue" in result.stdout
    assert lines[-2:] == [
        "", "start one with: muletui demo NAME   (add --headless --duration 10 to run it without the console)"
    ]


def test_muletui_demo_with_an_unknown_name_says_which_exist():
    result = subprocess.run(
        [sys.executable, "-m", "muletui", "demo", "nosuch"], check=False, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 1 and not result.stdout
    assert "no lesson 'nosuch': the lessons are seed, offload, farms, tasks, timers, traps" in result.stderr


def test_a_lesson_runs_headless_with_a_duration():
    result = subprocess.run(
        [sys.executable, "-m", "muletui", "demo", "tasks", "--headless", "--duration", "4"],
        check=False, capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 0
    assert "task 1 taken by mule" in result.stdout and "goodbye to uWSGI." in result.stdout


# -- the guide: each README's Watch and Try, for the console ----------------------------------

#: What a Try step may ask a person to press: the console's keys, and the arrows of the mule table.
CONSOLE_KEYS = {key for action in ACTIONS for key in action.keys.split(",")} | {"↑", "↓"}


@pytest.mark.parametrize("lesson", lessons(), ids=lambda lesson: lesson.name)
def test_each_lesson_guides_with_its_watch_and_try(lesson: Lesson):
    assert list(lesson.sections()) == ["Watch", "Try", "Teaches", "Under real uWSGI"]
    guide = lesson.guide()
    assert guide.startswith("**Watch**: ")
    watch, _, steps = guide.partition("\n\n**Try**:")
    assert steps.strip() and watch == lesson.sections()["Watch"]
    assert "**Teaches**" not in guide and "**Under real uWSGI**" not in guide
    # a key in backticks is a key the console has; what is typed into a box follows "type"
    for typed, key in re.findall(r"(type )?`([^`])`", steps):
        assert typed or key in CONSOLE_KEYS, f"{lesson.name}: `{key}` is not a console key"


def test_a_guide_keeps_a_section_s_paragraphs_and_lists(tmp_path: Path):
    (tmp_path / "README.md").write_text(
        "# A lesson\n\nIntro.\n\n**Watch**: this.\n\nAnd that.\n\n**Try**:\n- one\n- two\n\n**Teaches**: x.\n"
    )
    lesson = Lesson("mine", str(tmp_path))
    assert lesson.title == "A lesson"
    assert lesson.guide() == "**Watch**: this.\n\nAnd that.\n\n**Try**:\n- one\n- two"


@pytest.mark.parametrize("lesson", lessons(), ids=lambda lesson: lesson.name)
def test_the_console_finds_the_lesson_a_plan_runs(lesson: Lesson, monkeypatch: pytest.MonkeyPatch):
    assert lesson_for_ini(lesson.ini) == lesson
    assert lesson_for_ini(os.fsencode(lesson.ini)) == lesson
    monkeypatch.chdir(lesson.directory)
    assert lesson_for_ini("lesson.ini") == lesson
    options = demo_command([lesson.name])  # what `muletui demo NAME` runs
    assert isinstance(options, list)
    assert lesson_for_plan(build(parse_argv(options))) == lesson


def test_plain_muletui_runs_the_seed_lesson():
    assert lesson_for_plan(build(parse_argv(demo_argv()))) == find("seed")


def test_no_lesson_for_another_stack(tmp_path: Path):
    other = tmp_path / "lesson.ini"
    other.write_text("[uwsgi]\nmule = true\n")
    assert lesson_for_ini(other) is None
    assert lesson_for_plan(build(parse_argv(["--ini", str(other)]))) is None
    assert lesson_for_plan(build(parse_argv(["--mules", "1"]))) is None


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
