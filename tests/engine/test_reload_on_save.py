"""Reload on save, as the console asks the session for it (``reload_on_save=True``): saving a
mule's script restarts that mule only, saving the app (or a module it imported) reloads the
stack, the app imported again in a new stack root; one burst of saves is one action; a syntax
error saved into a script or the app, then its fix. Real stacks, real files."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from conftest import StackRun, wait_gone

from muletui.config.builder import build
from muletui.config.options import parse_argv
from muletui.engine import events
from muletui.engine.master import StackStartError
from muletui.session import HangUp, StackReloads, StackSession

APP = """
import os
import helper
print("app imported in", os.getpid(), "version", helper.VERSION, flush=True)
"""

SCRIPT = """
import os, time
print("NAME up in", os.getpid(), flush=True)
while True:
    time.sleep(1)
"""


class SessionRun(StackRun):
    """A session's stack (followed through its reloads) and what the session told its front end."""

    def __init__(self, session: StackSession) -> None:
        super().__init__(session.master)
        self.session = session
        self.reloads: list[str | StackStartError | None] = []

    def pid(self, mule_id: int) -> int:
        return self.session.master.mules[mule_id].pid

    def spawned(self, mule_id: int) -> list[int]:
        return [event.pid for event in self.of(events.MuleSpawned) if event.mule_id == mule_id]


@pytest.fixture
async def session(tmp_path: Path) -> AsyncIterator:
    runs: list[SessionRun] = []

    async def _start(*argv: str) -> SessionRun:
        plan = build(parse_argv(list(argv)))
        plan.stack.chdir = str(tmp_path)
        reloads: list[str | StackStartError | None] = []
        session = StackSession(
            plan, HangUp.QUIT, reload_on_save=True, reloads=StackReloads(reloads.append, reloads.append)
        )
        run = SessionRun(session)
        run.reloads = reloads
        runs.append(run)
        await session.start()
        return run

    yield _start
    for run in runs:
        await run.session.close()
    survivors = wait_gone([pid for run in runs for pid in run.pids])
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)
    assert not survivors, f"processes outlived their stack: {survivors}"


def editor_save(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.swp")
    temporary.write_text(text)
    os.replace(temporary, path)


async def watching(run: SessionRun, path: Path, text: str, pattern: str) -> None:
    """Save ``path`` until the session answers with a line matching ``pattern``: the watcher's
    thread sets its watches a moment after the stack started, and a save before that is missed."""
    deadline = time.monotonic() + 10
    while not run.matching(pattern):
        assert time.monotonic() < deadline, f"no /{pattern}/ after saving {path.name}"
        path.write_text(text)
        with contextlib.suppress(AssertionError):  # no answer within 2 s: save again
            await run.until(lambda: bool(run.matching(pattern)), timeout=2.0, what=pattern)


async def test_saving_a_mule_script_restarts_that_mule_only(session, tmp_path):
    (tmp_path / "somaro.py").write_text(SCRIPT.replace("NAME", "somaro"))
    (tmp_path / "other.py").write_text(SCRIPT.replace("NAME", "other"))
    run = await session("--mule=somaro.py", "--mule=other.py", "--mule")
    await run.line("^other up")
    await run.line("^somaro up")
    first, others = run.pid(1), (run.pid(2), run.pid(3))
    await watching(run, tmp_path / "somaro.py", SCRIPT.replace("NAME", "somaro"), "saved: restarting mule 1$")
    await run.line("^somaro up", count=2)
    assert "muletui: somaro.py saved: restarting mule 1" in run.texts(0)
    assert run.pid(1) != first and (run.pid(2), run.pid(3)) == others
    assert not run.matching("OOOPS|reloading the stack") and run.reloads == []


async def test_saving_the_app_or_a_module_it_imported_reloads_the_stack(session, tmp_path):
    (tmp_path / "helper.py").write_text("VERSION = 1\n")
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "somaro.py").write_text(SCRIPT.replace("NAME", "somaro"))
    run = await session("--wsgi-file=app.py", "--mule=somaro.py", "--mule")
    await run.line("^somaro up")
    old_root, old_mules = run.session.master.root_pid, {run.pid(1), run.pid(2)}
    await watching(run, tmp_path / "app.py", APP, "app.py saved: reloading the stack")
    await run.until(lambda: len(run.matching("^somaro up")) == 2 and run.pid(2), what="the new stack's mules")
    assert "muletui: app.py saved: reloading the stack (the app is imported again)" in run.texts(0)
    new_root = run.session.master.root_pid
    assert new_root != old_root and not {run.pid(1), run.pid(2)} & old_mules
    assert run.matching("^app imported in") == [f"app imported in {old_root} version 1", f"app imported in {new_root} version 1"]
    log = run.texts(0)
    sequence = log[log.index("...gracefully killing workers..."):]
    assert sorted(line for line in sequence if "annihilated" in line)[:2] == sorted(
        f"mule {n} (pid: {pid}) annihilated" for n, pid in ((1, run.spawned(1)[0]), (2, run.spawned(2)[0]))
    )
    assert f"gracefully (RE)spawned uWSGI master process (pid: {os.getpid()})" in sequence
    assert run.reloads == ["app.py saved", None]
    editor_save(tmp_path / "helper.py", "VERSION = 2\n")  # the module app.py imported, saved as editors do
    await run.line("version 2$")
    assert f"muletui: {tmp_path / 'helper.py'} saved: reloading the stack (the app is imported again)" in run.texts(0)
    await run.until(lambda: len(run.reloads) == 4, what="the second reload's end")
    assert run.reloads[2:] == [f"{tmp_path / 'helper.py'} saved", None]


async def test_a_burst_of_saves_is_one_restart(session, tmp_path):
    script = tmp_path / "somaro.py"
    script.write_text(SCRIPT.replace("NAME", "somaro"))
    run = await session("--mule=somaro.py")
    await run.line("^somaro up")
    await watching(run, script, SCRIPT.replace("NAME", "somaro"), "saved: restarting mule 1$")
    await run.line("^somaro up", count=2)
    restarts = len(run.matching("saved: restarting mule 1$"))
    for n in range(5):
        editor_save(script, SCRIPT.replace("NAME", f"burst {n}"))
        await asyncio.sleep(0.03)  # 30 ms apart: one burst
    await run.line("^burst 4 up")
    ups = len(run.matching(" up in "))
    (tmp_path / "notes.txt").write_text("an unwatched file, then a last save to wait for\n")
    script.write_text(SCRIPT.replace("NAME", "last"))
    await run.line("^last up")
    assert len(run.matching("saved: restarting mule 1$")) == restarts + 2, "\n".join(map(str, run.lines))
    assert len(run.matching(" up in ")) == ups + 1 and not run.matching("^burst [0-3] up")


async def test_a_syntax_error_saved_into_a_script_then_its_fix(session, tmp_path):
    script = tmp_path / "somaro.py"
    script.write_text(SCRIPT.replace("NAME", "somaro"))
    run = await session("--mule=somaro.py")
    await run.line("^somaro up")
    await watching(run, script, "while True print('broken')\n", "saved: restarting mule 1$")
    await run.line("^SyntaxError: ", mule_id=1)
    script.write_text(SCRIPT.replace("NAME", "fixed"))  # the mule backs off between crashes: the fix starts it now
    await run.line("^fixed up", timeout=5)
    assert len(run.matching("saved: restarting mule 1$")) >= 2


async def test_a_syntax_error_saved_into_the_app_then_its_fix(session, tmp_path):
    (tmp_path / "helper.py").write_text("VERSION = 1\n")
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "somaro.py").write_text(SCRIPT.replace("NAME", "somaro"))
    run = await session("--wsgi-file=app.py", "--mule=somaro.py")
    await run.line("^somaro up")
    await watching(run, tmp_path / "helper.py", "VERSION = = 2\n", "helper.py saved: reloading the stack")
    await run.line(r"^\*\*\* no app loaded\. going in full dynamic mode \*\*\*$")
    await run.line("^somaro up", count=2)  # the stack runs without its app, as uWSGI's
    assert run.matching("^SyntaxError: invalid syntax$", mule_id=0)
    await run.until(lambda: run.reloads[-1:] == [None], what="the reload's end")
    # uWSGI's reloader loses a module whose import failed; the console still watches it.
    (tmp_path / "helper.py").write_text("VERSION = 3\n")
    await run.line("version 3$")
    await run.line("^somaro up", count=3)
    assert re.search("helper.py saved", run.reloads[-2] or "")
