"""Config-time behaviour that shows in a running stack: ``print`` lines, ``env``, the ``exec-*``
hook commands, and an ini file that uwsgiconf 2.4.0 generates, each run as ``muletui --headless``.

Comments quote what real uWSGI 2.0.30 (pyuwsgi) did with the same config.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from uwsgiconf.presets.nice import PythonSection  # the test extra pins uwsgiconf==2.4.0

from muletui.config.builder import build
from muletui.config.options import parse_argv
from muletui.engine import events
from muletui.session import HangUp, StackSession

STAMP = r"\d\d:\d\d:\d\d\.\d{3}"


def master_lines(output: str) -> list[str]:
    """The text of the master's stdout lines (``master  | text``), in order."""
    return re.findall(rf"(?m)^{STAMP} master  \| (.*)$", output)


def test_print_lines_come_on_stdout_as_the_masters_before_the_stack_starts(cli, write) -> None:
    """uWSGI writes ``print`` (and ``iprint``) with ``fprintf(stdout)`` while it reads its config,
    before its ``*** Starting uWSGI`` banner (stderr): here they are the master's first stdout lines."""
    write("p.ini", """\
        [uwsgi]
        set-placeholder = who=world
        print = hello %(who) from %n
        mule = true
        iprint = first, as read
        """)
    run = cli("--headless", "--duration", "1", "p.ini")
    assert run.wait(30) == 0, run.output
    lines = master_lines(run.output)
    assert lines[:2] == ["first, as read", "hello world from p"]
    assert lines[2].startswith("spawned uWSGI mule 1")


async def test_print_lines_reach_every_front_end_through_the_event_stream(tmp_path: Path) -> None:
    """The console's log and ``--log-file`` read the same bus as headless: the lines are the first
    event, the master's (mule 0) stdout, published once even when the stack is restarted."""
    plan = build(parse_argv(["--mule", "--print", "one", "--print", "two"]))
    plan.stack.chdir = str(tmp_path)
    session = StackSession(plan, HangUp.QUIT)
    subscription = session.bus.subscribe()
    try:
        await session.start()
        await session.restart()
    finally:
        await session.close()
    seen: list[events.Event] = []
    while batch := await subscription.batch():
        seen += batch
    first = seen[0]
    assert isinstance(first, events.OutputLines) and (first.mule_id, first.stream) == (0, "out")
    assert [line.text for line in first.lines] == ["one", "two"]
    assert sum(isinstance(e, events.OutputLines) and e.lines[0].text == "one" for e in seen) == 1


def test_env_reaches_the_app_every_mule_and_the_hook_commands(cli, write) -> None:
    """uWSGI sets them in its master with ``putenv`` (``env = NAME`` without '=' unsets, as glibc
    does): a mule's C ``getenv`` gave ``FOO=b'foo-2-N' HOME=None BAR=None`` and ``exec-asap =
    echo ASAP FOO=$FOO`` printed ``ASAP FOO=foo-2-N``. (pyuwsgi's ``os.environ`` misses them
    because its Python starts before the config is read; the uwsgi binary starts Python after,
    as muletui's stack root does.)"""
    write("mule.py", """\
        import os, time
        print("MULE", os.environ.get("FOO"), os.environ.get("HOME"), os.environ.get("BAR"), flush=True)
        time.sleep(30)
        """)
    write("app.py", 'import os\nprint("APP", os.environ.get("FOO"), flush=True)\n')
    write("env.ini", """\
        [uwsgi]
        set-ph = name=N
        env = FOO=foo-%k-%(name)
        env = HOME
        env = BAR=1
        unenv = BAR
        mule = mule.py
        wsgi-file = app.py
        exec-asap = echo ASAP FOO=$FOO
        """)
    run = cli("--headless", "--duration", "2", "env.ini")
    assert run.wait(30) == 0, run.output
    foo = f"foo-{os.sysconf('SC_NPROCESSORS_ONLN')}-N"
    assert f"ASAP FOO={foo}" in master_lines(run.output)
    assert f"APP {foo}" in master_lines(run.output)
    assert re.search(rf"(?m)^{STAMP} mule 1  \| MULE {foo} None None$", run.output), run.output


def test_hook_commands_run_in_uwsgis_order_and_words(cli, write, tmp_path: Path) -> None:
    """uWSGI's log: ``running "echo ASAP FOO=$FOO" (asap)...``, ``chdir() to /tmp``, ``running
    "echo PREAPP FOO=$FOO; pwd" (pre app)...`` (pwd printed /tmp: pre-app runs in --chdir), then
    the app; ``exec-as-user-atexit`` runs after ``goodbye to uWSGI.``, as ``(as uid: U gid: G) ...``."""
    (tmp_path / "work").mkdir()
    write("work/app.py", 'print("APP IMPORTED", flush=True)\n')
    write("h.ini", """\
        [uwsgi]
        mule = true
        chdir = work
        wsgi-file = app.py
        exec-as-user-atexit = echo BYE
        exec-pre-app = echo PREAPP; pwd
        exec-as-user = echo USER
        exec-asap = echo ASAP; pwd; echo ERR >&2
        """)
    run = cli("--headless", "--duration", "1", "h.ini")
    assert run.wait(30) == 0, run.output
    ids = f"(as uid: {os.getuid()} gid: {os.getgid()}) ..."
    lines = master_lines(run.output)
    start = lines.index('running "echo ASAP; pwd; echo ERR >&2" (asap)...')
    assert lines[start : start + 8] == [
        'running "echo ASAP; pwd; echo ERR >&2" (asap)...', "ASAP", str(tmp_path),
        f'running "echo USER" {ids}', "USER",
        'running "echo PREAPP; pwd" (pre app)...', "PREAPP", str(tmp_path / "work"),
    ]
    assert lines.index("APP IMPORTED") > start + 7
    assert lines[-3:] == ["goodbye to uWSGI.", f'running "echo BYE" {ids}', "BYE"]
    assert re.search(rf"(?m)^{STAMP} master  ! ERR$", run.output)


def test_a_failing_hook_command_stops_the_start_as_uwsgi_exits(cli, write) -> None:
    """uWSGI: ``command "…" exited with non-zero code: 3`` and exit 1, before any process starts."""
    write("f.ini", "[uwsgi]\nmule = true\nexec-asap = echo before; exit 3\n")
    run = cli("--headless", "--duration", "5", "f.ini")
    assert run.wait(30) == 1
    assert master_lines(run.output)[-2:] == ["before", 'command "echo before; exit 3" exited with non-zero code: 3']
    assert "spawned uWSGI mule" not in run.output


def test_exit_option_ends_muletui_with_its_status(cli, write) -> None:
    write("e.ini", "[uwsgi]\niprint = checking\nif-not-env = MULETUI_SURELY_UNSET\nexit = 3\nendif =\nmule = true\n")
    run = cli("--headless", "e.ini")
    assert run.wait(30) == 3
    assert run.output.splitlines() == [
        "checking", "muletui: e.ini:4: exit: uWSGI stops reading its config here and exits with status 3",
    ]


def test_an_ini_that_uwsgiconf_generates_runs_unchanged(cli, write, tmp_path: Path) -> None:
    """uwsgiconf 2.4.0's nice preset writes ``strict``, ``env``, ``workers = %k``, ``mules``,
    ``print`` banners and ``set-placeholder`` at the end; real uWSGI printed its banner lines
    ``>   hello from uwsgiconf`` and ``>   cores 2, dir /tmp/mt/`` (the placeholder set after use)."""
    app = write(
        "app.py",
        'import os\nprint("APP MY_VAR", os.environ.get("MY_VAR"), flush=True)\n'
        "def application(environ, start_response):\n    return []\n",  # the preset sets need-app
    )
    section = PythonSection(wsgi_module=app)  # an absolute path: uwsgiconf writes wsgi-file
    section.workers.set_mules_params(mules=2)
    section.print_out("hello from uwsgiconf")
    section.env("MY_VAR", "my value")
    section.set_placeholder("here", "%d")
    section.print_out("cores %k, dir %(here)")
    ini = tmp_path / "generated.ini"
    ini.write_text(section.as_configuration().format())
    assert "workers = %k" in ini.read_text()
    run = cli("--headless", "--duration", "2", str(ini))
    assert run.wait(30) == 0, run.output
    lines = master_lines(run.output)
    assert lines[:2] == [">   hello from uwsgiconf", f">   cores {os.sysconf('SC_NPROCESSORS_ONLN')}, dir {tmp_path}/"]
    assert "APP MY_VAR my value" in lines
    assert sum(line.startswith("spawned uWSGI mule") for line in lines) == 2
