"""Every bad input gets one line on stderr, exit status 1, within seconds, and leaves no process.

Each case runs ``python -m muletui --headless ...`` for real, in a session of its own and with a
marker in its environment: afterwards no process may be left in that session, nor anywhere
with the marker (the stack root starts a session of its own, and mules inherit the environment).
Simpler bad command lines (malformed values, broken config files) are in test_cli.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ROOT

SECONDS = 10.0


def _includes(tmp_path: Path) -> None:
    """Ten files, each including the next one a hundred times: 100**10 options if expanded."""
    for level in range(10):
        (tmp_path / f"inc{level}.ini").write_text("[uwsgi]\n" + f"ini = inc{level + 1}.ini\n" * 100)
    (tmp_path / "inc10.ini").write_text("[uwsgi]\nmule = true\n")


def _doubling_references(tmp_path: Path) -> None:
    """Each value twice the one before: 2**40 KiB if resolved."""
    lines = ["[uwsgi]", "mule = true", "a0 = " + "x" * 1024]
    lines += [f"a{n} = %(a{n - 1})%(a{n - 1})" for n in range(1, 41)]
    (tmp_path / "refs.ini").write_text("\n".join(lines) + "\n")


@dataclass(frozen=True)
class Case:
    argv: list[str]
    phrase: str  # the key phrase of the one line
    setup: Callable[[Path], None] = lambda tmp_path: None
    ulimit_n: int | None = None  # run under ``ulimit -n`` this low, as a shell user would
    starts_with: str = ""  # what the line must begin with, after "muletui: "


CASES = {
    "mule-msg-size beyond a C int": Case(
        ["--mule", "--mule-msg-size=99999999999"], "--mule-msg-size=99999999999: at most 2147483647"
    ),
    "signal-bufsize beyond a C int": Case(
        ["--mule", "--signal-bufsize", "99999999999"], "--signal-bufsize=99999999999: at most 2147483647"
    ),
    "mules 100000": Case(["--mules", "100000"], "--mules=100000: at most 256 mules"),
    "mules adding up past the bound": Case(["--mules", "200", "--mules", "100"], "too many mules: 300"),
    "locks 100000000": Case(["--mule", "--locks", "100000000"], "--locks=100000000: at most 65536 locks"),
    "257 farms": Case(["--mule", *["--farm=f:1"] * 257], "too many farms: muletui runs at most 256"),
    "65 timers": Case(["--mule", *["--timer=1 1"] * 65], "you can register max 64 timers !!!"),
    "65 rb timers": Case(["--mule", *["--rbtimer=1 1"] * 65], "you can register max 64 rb_timers !!!"),
    "65 file monitors": Case(["--mule", *["--fs-signal=. 1"] * 65], "you can register max 64 file monitors !!!"),
    "timer seconds beyond a C int": Case(["--mule", "--timer", "1 99999999999"], "at most 2147483647"),
    "duration not finite": Case(["--mule", "--duration", "nan"], "--duration needs a finite number, got 'nan'"),
    "ini /dev/zero": Case(["--ini", "/dev/zero"], "larger than 4 MiB, muletui's limit for a config file"),
    "a 100 KiB line": Case(
        ["--ini", "long.ini"],
        "long.ini:2: line longer than 65536 characters",
        lambda tmp_path: (tmp_path / "long.ini").write_text("[uwsgi]\nmule = " + "x" * 100_000 + ".py\n"),
    ),
    "a 60 KB value quoted in an error": Case(
        ["--mule", "--ini", "huge.ini"],
        "--processes needs a number, got 'zzzzzzzzzz",
        lambda tmp_path: (tmp_path / "huge.ini").write_text("[uwsgi]\nprocesses = " + "z" * 60_000 + "\n"),
    ),
    "files including each other exponentially": Case(["--ini", "inc0.ini"], "more than 10000 options", _includes),
    "references doubling a value": Case(
        ["--ini", "refs.ini"], "value longer than 65536 characters once its %(...) references", _doubling_references
    ),
    "json nested too deep": Case(
        ["--json", "deep.json"],
        "error parsing JSON data: maximum parsing depth reached",
        lambda tmp_path: (tmp_path / "deep.json").write_text(
            json.dumps({"uwsgi": {"mule": "true"}})[:-1] + ', "x": ' + "[\n" * 50_000 + "]\n" * 50_000 + "}"
        ),
    ),
    "chdir missing": Case(["--mule", "--chdir", "nowhere"], "--chdir nowhere: No such file or directory"),
    "chdir a file": Case(
        ["--mule", "--chdir", "afile"], "--chdir afile: Not a directory", lambda tmp_path: (tmp_path / "afile").touch()
    ),
    "mule file missing": Case(["--mule=missing.py"], "mule 1: no such file: missing.py"),
    "mule file missing under --chdir": Case(
        ["--mule", "--chdir", "sub", "--mule=here.py"],
        "mule 2: no such file: here.py",
        lambda tmp_path: ((tmp_path / "sub").mkdir(), (tmp_path / "here.py").touch()),
    ),
    "misspelt option on the command line": Case(
        ["--mule", "--muless", "2"], "unrecognized option '--muless' (did you mean --mules?)"
    ),
    "an option uWSGI 2.0.30 does not have": Case(["--mule", "--spooler-cheap"], "unrecognized option '--spooler-cheap'"),
    "misspelt key, then nothing to run": Case(
        ["m.ini"],
        "nothing to run",
        lambda tmp_path: (tmp_path / "m.ini").write_text("[uwsgi]\nmulle = x.py\n"),
        starts_with="--mulle is not an option (did you mean --mule?); ",
    ),
    "misspelt key, then a bad farm": Case(
        ["m.ini", "--mule", "--farm", "f:2"],
        "command line: invalid mule id: 2",
        lambda tmp_path: (tmp_path / "m.ini").write_text("[uwsgi]\nmuless = 2\n"),
        starts_with="--muless is not an option (did you mean --mules?); ",
    ),
    "misspelt key, then a missing mule file": Case(
        ["m.ini", "--mule=here.py"],
        "mule 1: no such file: here.py",
        lambda tmp_path: ((tmp_path / "sub").mkdir(), (tmp_path / "m.ini").write_text("[uwsgi]\nchdri = sub\n")),
        starts_with="--chdri is not an option (did you mean --chdir?); ",
    ),
    "8 mules under ulimit -n 64": Case(
        ["--mules", "8"], "file descriptors, but the limit is 64 (ulimit -n)", ulimit_n=64
    ),
    "16 mules under ulimit -n 64": Case(
        ["--mules", "16"], "file descriptors, but the limit is 64 (ulimit -n)", ulimit_n=64
    ),
}


def _left_behind(session: int, marker: str) -> list[int]:
    """Live processes in ``session`` or whose environment carries ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if fields[0] != "Z" and (int(fields[3]) == session or marker.encode() in environ):
            found.append(int(entry.name))
    return found


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_line_status_1_in_seconds_and_nothing_left(tmp_path: Path, name: str) -> None:
    case = CASES[name]
    case.setup(tmp_path)
    marker = f"MULETUI_BAD_INPUT_{uuid.uuid4().hex}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), marker: "1"}
    started = time.monotonic()
    command = [sys.executable, "-m", "muletui", "--headless", *case.argv]
    if case.ulimit_n is not None:
        command = ["sh", "-c", f'ulimit -n {case.ulimit_n} && exec "$@"', "sh", *command]
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    elapsed = time.monotonic() - started
    left = _left_behind(process.pid, marker)
    for pid in left:
        os.kill(pid, 9)
    assert process.returncode == 1, (out, err)
    assert elapsed < SECONDS
    assert "Traceback" not in out + err
    lines = err.splitlines()
    assert 1 <= len(lines) <= 3, err
    assert lines[0].startswith("muletui: " + case.starts_with), lines[0]
    assert case.phrase in lines[0]
    assert len(lines[0]) < 300, "a long value is cut, not echoed"
    assert left == []


def test_mule_files_are_checked_where_their_mule_runs(tmp_path: Path) -> None:
    """The check of ``--mule=FILE.py`` resolves it against --chdir, as the mule does: no false refusal."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "here.py").write_text("print('here ran', flush=True)\nimport time; time.sleep(30)\n")
    result = subprocess.run(
        [sys.executable, "-m", "muletui", "--headless", "--chdir", "sub", "--mule=here.py", "--duration", "1"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=SECONDS,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "here ran" in result.stdout
