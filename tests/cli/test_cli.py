"""``python -m muletui`` as a real subprocess: options, config files, signals, orphans, recorders.

Every run happens in the test's ``tmp_path``; the ``cli`` fixture stops what is still running and
fails the test if a mule or a stack root it was told about outlives muletui.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import time
from pathlib import Path

import pytest
from conftest import children_of, wait_gone

import muletui
from muletui import UWSGI_VERSION
from muletui.config.option_table import WORKERS_REASON
from muletui.engine import events
from muletui.headless import Printer
from muletui.recorders import LogFileWriter

CHECKOUT = Path(__file__).resolve().parents[2]

STAMP = r"\d\d:\d\d:\d\d\.\d{3}"

APP = """
import uwsgi
print("app queued", uwsgi.mule_msg("hi", 1))
"""

SOMARO = """
import uwsgi
print("somaro ready", uwsgi.mule_id(), flush=True)
while True:
    print("somaro got", uwsgi.mule_get_msg(), flush=True)
"""


@pytest.fixture(autouse=True)
def _checkout_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    """``python -m muletui`` runs in ``tmp_path``: make it import this checkout, installed or not."""
    path = [str(CHECKOUT), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, path)))


@pytest.fixture
def stack_files(write) -> None:
    write("app.py", APP)
    write("somaro.py", SOMARO)


def line(source: str, text: str, mark: str = "|") -> str:
    """A regex for one whole headless line: ``HH:MM:SS.mmm mule 1  | text``."""
    return rf"(?m)^{STAMP} {re.escape(source.ljust(8))}{re.escape(mark)} {re.escape(text)}$"


def spawned(output: str) -> list[tuple[int, int]]:
    """``(mule id, pid)`` of every ``spawned uWSGI mule`` line, in order."""
    found = re.findall(rf"(?m)^{STAMP} master  \| spawned uWSGI mule (\d+) \(pid: (\d+)\)$", output)
    return [(int(mule_id), int(pid)) for mule_id, pid in found]


def read_until(run, pattern: str, timeout: float = 15.0) -> str:
    """Read muletui's output until ``pattern`` matches it; returns the output so far."""
    return run.read_until(pattern, timeout)


def read_count(run, pattern: str, count: int, timeout: float = 15.0) -> str:
    """Read until ``pattern`` matched ``count`` times."""
    return read_until(run, rf"(?s)(?:{pattern}.*?){{{count}}}", timeout)


def stop(run, signum: int = signal.SIGINT) -> int:
    run.process.send_signal(signum)
    return run.wait(15)


def root_of(run) -> int:
    """The stack root's pid (muletui's only child)."""
    (root,) = children_of(run.process.pid)
    return root


# -- the basic stack from the command line ------------------------------------------------------


def test_command_line_stack_runs_and_exits_clean_on_sigint(cli, stack_files):
    run = cli("--headless", "--master", "--wsgi-file", "app.py", "--mule=somaro.py", "--mule", "--mule")
    read_count(run, "spawned uWSGI mule", 3)
    cli.track_root(run)
    root = root_of(run)
    read_until(run, line("mule 1", "somaro got b'hi'"))
    assert stop(run) == 0
    assert [mule_id for mule_id, _pid in spawned(run.output)] == [1, 2, 3]
    assert re.search(line("master", "app queued True"), run.output)
    assert re.search(line("master", "SIGINT/SIGTERM received...killing workers..."), run.output)
    for mule_id, pid in spawned(run.output):
        assert re.search(line("master", f"mule {mule_id} (pid: {pid}) annihilated"), run.output)
    assert run.output.rstrip("\n").splitlines()[-1].endswith("master  | goodbye to uWSGI.")
    assert "OOOPS" not in run.output
    assert wait_gone([*run.pids(), root]) == []


# -- config files -------------------------------------------------------------------------------

CONFIGS = {
    "ini": (
        "conf.ini",
        """
        [uwsgi]
        master = true
        wsgi-file = app.py
        mule = somaro.py
        mule = true
        mule =
        """,
        ["--ini", "conf.ini"],
        3,
    ),
    "xml": (
        "conf.xml",
        """
        <uwsgi>
            <socket>127.0.0.1:0</socket>
            <wsgi-file>app.py</wsgi-file>
            <mule>somaro.py</mule>
            <mule/>
            <mule/>
            <mule/>
            <mule/>
        </uwsgi>
        """,
        ["--xml", "conf.xml"],
        5,
    ),
    "yaml": (
        "conf.yaml",
        """
        uwsgi:
          master: true
          wsgi-file: app.py
          mule: somaro.py
          mule: true
          mule: 1
        """,
        ["--yaml", "conf.yaml"],
        3,
    ),
    "json": (
        "conf.json",
        """
        {"uwsgi": {
          "master": true,
          "wsgi-file": "app.py",
          "mule": ["somaro.py", true, false]
        }}
        """,
        ["--json", "conf.json"],
        3,
    ),
    "positional ini": (
        "conf.ini",
        """
        [uwsgi]
        wsgi-file = app.py
        mule = somaro.py
        mule = true
        mule =
        """,
        ["conf.ini"],
        3,
    ),
}


@pytest.mark.parametrize("kind", list(CONFIGS))
def test_config_file_starts_the_same_stack(cli, write, stack_files, kind):
    name, text, argv, mules = CONFIGS[kind]
    write(name, text)
    run = cli("--headless", *argv)
    read_count(run, "spawned uWSGI mule", mules)
    cli.track_root(run)
    read_until(run, line("mule 1", "somaro got b'hi'"))
    assert stop(run) == 0
    assert [mule_id for mule_id, _pid in spawned(run.output)] == list(range(1, mules + 1))
    assert run.output.count("somaro ready") == 1  # only mule 1 is programmed
    assert re.findall(r"muletui warning: .*", run.output) == []
    if kind == "xml":  # the seed's <socket> (on loopback here, not uWSGI's every interface) gets its worker
        assert re.search(r"spawned uWSGI worker 1 \(pid: \d+, cores: 1\)", run.output)


# -- stopping -----------------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGQUIT])
def test_sigterm_and_sigquit_stop_the_stack_with_status_0(cli, stack_files, signum):
    run = cli("--headless", "--mule=somaro.py", "--mule")
    read_count(run, "spawned uWSGI mule", 2)
    cli.track_root(run)
    root = root_of(run)
    read_until(run, line("mule 1", "somaro ready 1"))
    assert stop(run, signum) == 0
    assert re.search(line("master", "goodbye to uWSGI."), run.output)
    assert len(re.findall(r"\) annihilated$", run.output, re.MULTILINE)) == 2
    assert wait_gone([*run.pids(), root]) == []


def test_duration_stops_by_itself(cli, stack_files):
    started = time.monotonic()
    run = cli("--headless", "--mule=somaro.py", "--mule", "--duration", "1")
    assert run.wait(15) == 0
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 8.0
    assert [mule_id for mule_id, _pid in spawned(run.output)] == [1, 2]
    assert re.search(line("master", "goodbye to uWSGI."), run.output)
    assert "SIGINT/SIGTERM received" not in run.output
    assert wait_gone(run.pids()) == []


async def test_headless_lines_carry_the_time_of_their_event(tmp_path):
    """Master lines carry the time they were published, mule lines the time they were read;
    printing later must not restamp them (it made times go backwards)."""
    out = io.StringIO()
    at = time.mktime((2026, 11, 29, 12, 0, 0, 0, 0, -1))
    batch = [
        events.MasterLog(text="spawned uWSGI mule 1 (pid: 4001)", wall=at),
        events.OutputLines(mule_id=1, stream="out", lines=(events.OutputLine(0.0, at + 0.25, "hi"),)),
        events.StackWarning(text="careful", mule_id=1, wall=at + 0.5),
    ]
    Printer(out).write(batch)
    assert out.getvalue().splitlines() == [
        "12:00:00.000 master  | spawned uWSGI mule 1 (pid: 4001)",
        "12:00:00.250 mule 1  | hi",
        "12:00:00.500 master  ! muletui warning: careful",
    ]
    log = tmp_path / "log.txt"
    writer = LogFileWriter(str(log), on_failure=print)
    for event in batch:
        writer(event)
    writer.close()
    assert log.read_text().splitlines() == [
        "2026-11-29 12:00:00.000 master log spawned uWSGI mule 1 (pid: 4001)",
        "2026-11-29 12:00:00.250 mule 1 out hi",
        "2026-11-29 12:00:00.500 master warning careful",
    ]


def test_a_mule_ignoring_sigint_is_killed_after_the_grace(cli, write):
    write(
        "stubborn.py",
        """
        import signal, time
        signal.signal(signal.SIGINT, lambda *a: print("stubborn ignores SIGINT", flush=True))
        print("stubborn ready", flush=True)
        while True:
            time.sleep(1)
        """,
    )
    run = cli("--headless", "--mule=stubborn.py", "--mule")
    read_until(run, line("mule 1", "stubborn ready"))
    cli.track_root(run)
    root = root_of(run)
    assert stop(run) == 0
    assert re.search(line("mule 1", "stubborn ignores SIGINT"), run.output)
    assert re.search(line("master", "goodbye to uWSGI."), run.output)
    assert wait_gone([*run.pids(), root]) == []


def test_sigkill_of_muletui_takes_the_whole_stack_down(cli, stack_files):
    run = cli("--headless", "--wsgi-file=app.py", "--mule=somaro.py", "--mule", "--mule")
    read_count(run, "spawned uWSGI mule", 3)
    cli.track_root(run)
    root = root_of(run)
    read_until(run, line("mule 1", "somaro got b'hi'"))
    mules = run.pids()
    assert len(mules) == 3 and all(map(os.path.exists, (f"/proc/{pid}" for pid in [root, *mules])))
    run.process.kill()
    run.process.wait(5)
    assert wait_gone([root, *mules], timeout=5) == []


def test_death_of_the_stack_root_ends_muletui_with_its_mules(cli, stack_files):
    run = cli("--headless", "--mule=somaro.py", "--mule")
    read_count(run, "spawned uWSGI mule", 2)
    cli.track_root(run)
    root = root_of(run)
    read_until(run, line("mule 1", "somaro ready 1"))
    os.kill(root, signal.SIGKILL)
    assert run.wait(15) == 1
    reason = "the stack root died (killed by SIGKILL); its mules died with it"
    assert re.search(line("master", reason), run.output)
    assert wait_gone(run.pids()) == []


# -- reload -------------------------------------------------------------------------------------


def test_sighup_respawns_every_mule_without_oooops(cli, stack_files):
    run = cli("--headless", "--wsgi-file=app.py", "--mule=somaro.py", "--mule", "--mule")
    read_count(run, "spawned uWSGI mule", 3)
    cli.track_root(run)
    read_until(run, line("mule 1", "somaro got b'hi'"))
    before = dict(spawned(run.output))
    run.process.send_signal(signal.SIGHUP)
    read_count(run, "spawned uWSGI mule", 6)
    read_count(run, "somaro ready 1", 2)
    after = dict(spawned(run.output)[3:])
    assert sorted(after) == [1, 2, 3]
    assert set(after.values()).isdisjoint(before.values())
    assert wait_gone(list(before.values())) == []
    assert stop(run) == 0
    assert re.search(line("master", "SIGHUP received: reloading mules..."), run.output)
    assert "OOOPS" not in run.output
    assert len(spawned(run.output)) == 6


def test_sighup_while_mules_are_still_starting_reloads_them_too(cli, write, stack_files):
    # Each fork in the stack root waits 0.25 s, so mules 2 and 3 are still starting at the SIGHUP.
    write("slow_forks.py", "import os, time\nos.register_at_fork(before=lambda: time.sleep(0.25))\n")
    run = cli("--headless", "--wsgi-file=slow_forks.py", "--mule=somaro.py", "--mule", "--mule")
    read_until(run, "spawned uWSGI mule 1 ")
    cli.track_root(run)
    run.process.send_signal(signal.SIGHUP)
    read_count(run, "spawned uWSGI mule", 6, timeout=4)
    assert sorted(mule_id for mule_id, _pid in spawned(run.output)) == [1, 1, 2, 2, 3, 3]


# -- respawn ------------------------------------------------------------------------------------


def test_programmed_mule_that_exits_is_respawned(cli, write):
    write("once.py", "print('once ran', flush=True)\n")
    run = cli("--headless", "--mule=once.py", "--mule")
    read_count(run, r"spawned uWSGI mule 1 \(", 2)
    first, second = [pid for mule_id, pid in spawned(run.output) if mule_id == 1][:2]
    assert first != second
    assert re.search(line("master", f"OOOPS mule 1 (pid: {first}) crippled...trying respawn..."), run.output)
    oops_at = run.output.index(f"OOOPS mule 1 (pid: {first})")
    assert oops_at < run.output.index(f"spawned uWSGI mule 1 (pid: {second})")
    assert stop(run) == 0
    assert "OOOPS mule 2" not in run.output


# -- bad input ----------------------------------------------------------------------------------


BAD_COMMAND_LINES = {
    "mule space form": (
        ["--mule", "somaro.py"],
        ("muletui: command line: --mule somaro.py: uWSGI takes --mule's program only with '=', and would read "
        'somaro.py as a config file ("unable to load configuration from somaro.py"). Write --mule=somaro.py'),
    ),
    "mule-msg-size space form": (
        ["--mule", "--mule-msg-size", "4096"],
        ("muletui: command line: --mule-msg-size 4096: uWSGI takes this value only with '=', and would read "
        "4096 as a config file. Write --mule-msg-size=4096"),
    ),
    "farm id out of range": (["--mule", "--mule", "--farm=f:3"], "muletui: command line: invalid mule id: 3"),
    "farm without ids": (
        ["--mule", "--farm=f"],
        "muletui: command line: invalid farm value (f) must be in the form name:mule[,muleN].",
    ),
    "duration not a number": (
        ["--mule", "--duration", "abc"],
        "muletui: command line: --duration needs a number, got 'abc'",
    ),
    "missing config file": (
        ["nope.ini"],
        "muletui: nope.ini: unable to load configuration from nope.ini: No such file or directory",
    ),
    "unknown config extension": (
        ["conf.toml"],
        ("muletui: conf.toml: unable to load configuration from conf.toml: unknown config file type "
        "(use .ini, .xml, .yaml, .yml or .json)"),
    ),
    "broken ini": (["--ini", "bad.ini"], "muletui: bad.ini:3: section header '[broken' has no closing ']'"),
    "broken xml": (["--xml", "bad.xml"], "muletui: bad.xml:4: unable to parse xml file: mismatched tag"),
    "broken json": (
        ["bad.json"],
        "muletui: bad.json:3: error parsing JSON data: Expecting value (column 14)",
    ),
    "broken yaml": (
        ["--yaml", "bad.yaml"],
        ("muletui: bad.yaml:3: lists and flow collections are not supported; "
        "uWSGI's yaml reader stops reading the section here"),
    ),
    "neither mules nor an app": (
        ["--master"],
        "muletui: nothing to run: add --mule, --mule=FILE.py, --mules N or an app (--wsgi-file, --module)",
    ),
}


@pytest.mark.parametrize("case", list(BAD_COMMAND_LINES))
def test_bad_input_is_one_line_and_status_1(cli, write, stack_files, case):
    write("conf.toml", "[uwsgi]\nmule = somaro.py\n")
    write("bad.ini", "[uwsgi]\nmule = somaro.py\n[broken\n")
    write("bad.xml", "<uwsgi>\n  <mule>somaro.py</mule>\n  <mule>\n</uwsgi>\n")
    write("bad.json", '{"uwsgi": {\n  "master": true,\n  "mule": [1,]\n}}\n')
    write("bad.yaml", "uwsgi:\n  mule: somaro.py\n  - x\n")
    argv, message = BAD_COMMAND_LINES[case]
    run = cli("--headless", *argv)
    assert run.wait(15) == 1
    assert run.output == message + "\n"


# -- options muletui does not emulate -----------------------------------------------------------


def test_options_not_emulated_warn_once_each_and_the_stack_runs(cli, stack_files):
    run = cli(
        "--headless", "--http-socket", "127.0.0.1:0", "--processes", "2", "--enable-threads", "--uid", "0",
        "--enable-threads", "--mule=somaro.py", "--mule",
    )
    read_count(run, "spawned uWSGI mule", 2)
    cli.track_root(run)
    read_until(run, line("mule 1", "somaro ready 1"))
    assert stop(run) == 0
    warnings = re.findall(rf"(?m)^{STAMP} master  ! muletui warning: (.*)$", run.output)
    assert warnings == [
        f"--enable-threads: accepted, but muletui does not emulate it ({WORKERS_REASON})",
        "--uid: accepted, but muletui does not emulate it (muletui emulates uWSGI's master, mules and config, not this option)",
    ]
    assert [mule_id for mule_id, _pid in spawned(run.output)] == [1, 2]


# -- help and version ---------------------------------------------------------------------------


def test_help_lists_the_option_groups(cli):
    run = cli("--help")
    assert run.wait(15) == 0
    lines = run.output.splitlines()
    assert lines[0].startswith("usage: muletui [uWSGI options] [CONFIG_FILE]")
    groups = [text for text in lines if text and not text.startswith(" ") and text.endswith(":")]
    assert groups == [
        "mules:", "workers:", "signals:", "app:", "config:", "config logic:", "hooks:", "muletui:", "uWSGI options not emulated:"
    ]
    for option in ("--mule[=PROGRAM]", "--farm NAME:ID[,ID...]", "--ini FILE[:SECTION]", "--events PATH",
                   "--set-placeholder, --set-ph NAME=VALUE", "--exec-asap CMD"):
        assert any(text.startswith(f"  {option} ") for text in lines), option


def test_version(cli):
    run = cli("--version")
    assert run.wait(15) == 0
    assert run.output == f"muletui {muletui.__version__} (uWSGI {UWSGI_VERSION} mule semantics)\n"


# -- recorders ----------------------------------------------------------------------------------

PINGER = """
import time, uwsgi
time.sleep(0.3)
print("pinger sent", uwsgi.mule_msg(b"ping", 1), flush=True)
while True:
    time.sleep(60)
"""


def read_events(path: Path) -> list[dict]:
    return [json.loads(text) for text in path.read_text().splitlines()]


def test_events_and_log_file(cli, write, stack_files, tmp_path):
    write("pinger.py", PINGER)
    write("crash.py", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    run = cli(
        "--headless", "--wsgi-file=app.py", "--mule=somaro.py", "--mule=pinger.py", "--mule=crash.py",
        "--events", "ev.jsonl", "--log-file", "log.txt",
    )
    read_count(run, "spawned uWSGI mule", 3)
    cli.track_root(run)
    read_until(run, line("mule 1", "somaro got b'ping'"))
    read_until(run, line("mule 2", "pinger sent True"))
    read_until(run, r"OOOPS mule 3 ")
    assert stop(run) == 0
    records = read_events(tmp_path / "ev.jsonl")
    kinds = [record["kind"] for record in records]
    assert kinds[0] == "stack_starting" and records[0]["mules"] == 3
    assert kinds[-1] == "stack_stopped"
    spawns = [(r["mule_id"], r["pid"]) for r in records if r["kind"] == "mule_spawned"]
    assert spawns == spawned(run.output)
    exits = {r["pid"]: r for r in records if r["kind"] == "mule_exited"}
    crashed = next(pid for mule_id, pid in spawns if mule_id == 3)
    somaro = next(pid for mule_id, pid in spawns if mule_id == 1)
    fields = ("code", "signal", "expected")
    assert [exits[crashed][f] for f in fields] == [None, "SIGKILL", False]  # a crash
    assert [exits[somaro][f] for f in fields] == [30, None, True]  # uWSGI's end_me status on shutdown
    sent = [r for r in records if r["kind"] == "message_sent" and r["sender"] == 2]
    assert [(r["target"], r["size"], r["preview"]) for r in sent] == [(1, 4, "ping")]
    received = [r for r in records if r["kind"] == "message_received" and r["preview"] == "ping"]
    assert [(r["mule_id"], r["queue"], r["size"]) for r in received] == [(1, "own", 4)]
    outputs = [r for r in records if r["kind"] == "output"]
    assert {(r["mule_id"], r["stream"]) for r in outputs} >= {(0, "out"), (1, "out"), (2, "out")}
    assert all(isinstance(r["t"], float) for r in records)
    log = (tmp_path / "log.txt").read_text().splitlines()
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}"
    for expected in (
        "master out app queued True",
        "mule 1 out somaro ready 1",
        "mule 1 out somaro got b'hi'",
        "mule 1 out somaro got b'ping'",
        "mule 2 out pinger sent True",
        "master log goodbye to uWSGI.",
    ):
        assert [text for text in log if re.fullmatch(rf"{stamp} {re.escape(expected)}", text)], expected


def test_events_record_a_message_sent_by_the_app_at_import(cli, stack_files, tmp_path):
    run = cli("--headless", "--wsgi-file=app.py", "--mule=somaro.py", "--events", "ev.jsonl")
    read_until(run, line("mule 1", "somaro got b'hi'"))
    assert stop(run) == 0
    sent = [r for r in read_events(tmp_path / "ev.jsonl") if r["kind"] == "message_sent"]
    assert [(r["sender"], r["target"], r["preview"]) for r in sent] == [(0, 1, "hi")]


# -- the demo -----------------------------------------------------------------------------------


def test_only_muletui_options_run_the_demo(cli):
    run = cli("--headless")
    read_count(run, "spawned uWSGI mule", 4)
    cli.track_root(run)
    root = root_of(run)
    read_until(run, r"(?m)^" + STAMP + r" mule 1  \| .*loop1: Waiting for messages\.\.\. yawn\.")
    read_until(run, rf"(?m)^{STAMP} mule 1  \| .*b'ciuchino'")  # loop2's thread may share the line
    assert stop(run) == 0
    assert [mule_id for mule_id, _pid in spawned(run.output)] == [1, 2, 3, 4]
    assert re.search(line("master", "goodbye to uWSGI."), run.output)
    assert wait_gone([*run.pids(), root]) == []
