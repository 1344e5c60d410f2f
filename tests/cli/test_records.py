"""``--log-file`` and ``--events`` as a post-mortem needs them: on disk while the stack runs,
left behind by a master killed with SIGKILL, and never taking the stack down with a full disk."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, children_of, wait_gone

TICKER = """
import time
n = 0
while True:
    n += 1
    print(f"tick {n}", flush=True)
    time.sleep(0.05)
"""

FLOOD = """
import time
for n in range(1, 4001):
    print(f"line {n} " + "x" * 40)
print("flood done", flush=True)
while True:
    time.sleep(60)
"""


def until(condition, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def mule_lines(events_file: Path) -> int:
    """Lines of mule 1 that the whole records of an ``--events`` file count."""
    records = [json.loads(line) for line in events_file.read_text().splitlines(keepends=True) if line.endswith("\n")]
    return sum(r["lines"] for r in records if r["kind"] == "output" and r["mule_id"] == 1)


def test_records_reach_the_disk_as_they_happen_and_survive_sigkill(cli, write, tmp_path: Path) -> None:
    write("ticker.py", TICKER)
    run = cli("--headless", "--mule=ticker.py", "--events", "ev.jsonl", "--log-file", "log.txt")
    log, ev = tmp_path / "log.txt", tmp_path / "ev.jsonl"
    run.read_until(r"tick 3\n")
    cli.track_root(run)
    # tail -f sees lines while the stack runs: within the flush period, not at stop.
    until(lambda: log.exists() and "mule 1 out tick 3" in log.read_text(), "tick 3 in the log file", 2.0)
    until(lambda: '"kind": "output", ' in ev.read_text(), "an output record in the events file", 2.0)
    run.read_until(r"tick 20\n")
    until(lambda: "mule 1 out tick 20" in log.read_text(), "tick 20 in the log file, a flush period later", 2.0)
    until(lambda: mule_lines(ev) >= 20, "tick 20 in the events file, a flush period later", 2.0)
    run.process.send_signal(signal.SIGKILL)
    run.wait()
    assert "mule 1 out tick 20" in log.read_text()  # and still there after the master's SIGKILL
    records = [json.loads(line) for line in ev.read_text().splitlines()]  # whole lines only
    assert records[0]["kind"] == "stack_starting"
    assert [r["kind"] for r in records].count("mule_spawned") == 1
    assert mule_lines(ev) >= 20


@contextlib.contextmanager
def small_tmpfs(where: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs mounted at ``where`` for the test, or a skip where mounting is refused."""
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(where)], check=False, capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip() or mounted.returncode}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.mark.parametrize("disk", ["tmpfs", "/dev/full"])
def test_a_full_disk_costs_one_warning_and_nothing_else(cli, write, tmp_path: Path, disk: str) -> None:
    write("flood.py", FLOOD)
    with contextlib.ExitStack() as stack:
        if disk == "tmpfs":
            full = stack.enter_context(small_tmpfs(tmp_path / "small"))
            log, events = str(full / "log.txt"), str(full / "ev.jsonl")
        else:
            log = events = "/dev/full"
        run = cli("--headless", "--mule=flood.py", "--log-file", log, "--events", events)
        run.read_until(r"flood done\n", timeout=30)
        cli.track_root(run)
        run.process.send_signal(signal.SIGINT)
        assert run.wait() == 0
    output = run.output
    assert "Traceback" not in output
    for option, path in (("log-file", log), ("events", events)):
        warning = f"muletui warning: --{option} {path}: No space left on device: no longer written"
        assert output.count(warning) == 1, output[-3000:]
    lines = [text for text in output.splitlines() if "mule 1  | line " in text]
    assert len(lines) == 4000  # the failing records took nothing from stdout
    assert output.rstrip().endswith("goodbye to uWSGI.")


def test_record_files_are_created_with_uwsgi_logto_mode(cli, write, tmp_path: Path) -> None:
    write("ticker.py", TICKER)
    old = os.umask(0o022)
    try:
        run = cli("--headless", "--mule=ticker.py", "--events", "ev.jsonl", "--log-file", "log.txt", "--duration", "0.5")
    finally:
        os.umask(old)
    assert run.wait() == 0
    for name in ("ev.jsonl", "log.txt"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o640, name


@pytest.mark.parametrize("headless", [True, False], ids=["headless", "console"])
@pytest.mark.parametrize(
    ("option", "path", "reason"),
    [
        ("--log-file", "missing/log.txt", "No such file or directory"),
        ("--events", "missing/ev.jsonl", "No such file or directory"),
        ("--log-file", ".", "Is a directory"),
    ],
)
def test_a_record_that_cannot_be_opened_stops_before_anything_starts(
    tmp_path: Path, option: str, path: str, reason: str, headless: bool
) -> None:
    """Nothing of the stack's runs: the app is not imported, no mule forks; a stack root started
    ahead (it runs nothing of the user's before its spec) is gone with the master."""
    (tmp_path / "app.py").write_text("open('app-imported', 'w').close()\n")
    argv = [sys.executable, "-m", "muletui", "--wsgi-file", "app.py", "--mule", option, path,
            *(["--headless"] if headless else [])]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(argv, cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: set[int] = set()
    try:
        while process.poll() is None:
            with contextlib.suppress(FileNotFoundError):  # a process that just ended
                for child in children_of(process.pid):
                    seen |= {child, *children_of(child)}
            time.sleep(0.002)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 1
    assert err.splitlines() == [f"muletui: {option} {path}: {reason}"]
    assert out == ""
    assert not (tmp_path / "app-imported").exists(), "the app was imported although the record could not be opened"
    assert len(seen) <= 1, f"more than a stack root started: {sorted(seen)}"
    assert wait_gone(sorted(seen)) == []
