"""The reloader: which files a save concerns and what it asks for, watched with watchfiles on
real files (reference §6.4: an editor's save arrives as ``added``, an in-place write as
``modified``; a burst arrives as one batch), and the modules the stack root reports."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from pathlib import Path

import pytest

from muletui.engine.reloader import (
    Reloader,
    ReloadStack,
    Request,
    RestartMules,
    Watched,
    app_files,
    mule_scripts,
    stack_files,
)
from muletui.engine.root_process import ModuleFile
from muletui.ipc.spec import MuleSpec
from muletui.stack.root import module_files


def editor_save(path: Path, text: str) -> None:
    """As editors save: a temporary file beside it, renamed over it."""
    temporary = path.with_name(path.name + ".4821.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def test_a_stack_file_in_a_batch_reloads_the_stack_else_the_scripts_restart_their_mules():
    watched = Watched(
        {"/x/app.py": "app.py", "/x/helper.py": "/x/helper.py"},
        {"/x/a.py": ("a.py", (1, 3)), "/x/b.py": ("b.py", (2,))},
    )
    assert watched.request(["/x/a.py", "/x/helper.py"]) == ReloadStack("/x/helper.py", "/x/helper.py")
    assert watched.request(["/x/b.py", "/x/a.py"]) == RestartMules((1, 2, 3), ("a.py", "b.py"))
    assert watched.request(["/x/other.txt"]) is None


def test_paths_are_resolved_against_chdir_and_ignored_modules_left_out(tmp_path):
    mules = [MuleSpec(1, "a.py"), MuleSpec(2, None), MuleSpec(3, "pkg.mod:run"), MuleSpec(4, "a.py")]
    assert mule_scripts(mules, str(tmp_path)) == {str(tmp_path / "a.py"): ("a.py", (1, 4))}
    app = [("import", "os"), ("import", "lib/x.py"), ("file", "app.py"), ("module", "web:app")]
    assert app_files(app, str(tmp_path)) == {str(tmp_path / "lib/x.py"): "lib/x.py", str(tmp_path / "app.py"): "app.py"}
    modules = [ModuleFile("uwsgi_file_app", "app.py", "/x/app.py"), ModuleFile("helper", "/x/helper.py", "/x/helper.py")]
    assert stack_files(modules, ignore=["helper"]) == {"/x/app.py": "app.py"}


def test_the_root_reports_the_users_modules_not_pythons_nor_muletuis(tmp_path, monkeypatch):
    (tmp_path / "users_module_for_reloads.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import users_module_for_reloads  # noqa: F401, PLC0415 - the module to find

    try:
        found = {name: (file, path) for name, file, path in module_files()}
    finally:
        del sys.modules["users_module_for_reloads"]
    path = str(tmp_path / "users_module_for_reloads.py")
    assert found["users_module_for_reloads"] == (path, path)
    assert "os" not in found and "pytest" not in found and "muletui.stack.root" not in found


def test_the_root_tells_a_module_by_its_real_path_whether_its_file_or_its_directory_is_a_link(tmp_path, monkeypatch):
    """A link to one of muletui's files is muletui's (left out); a file reached through a linked
    directory is the user's, named by the path it was imported from."""
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "users_module_in_linked_dir.py").write_text("X = 1\n")
    (tmp_path / "via").symlink_to(tmp_path / "real")
    (tmp_path / "links").mkdir()
    (tmp_path / "links" / "users_link_to_muletui.py").symlink_to(Path(module_files.__code__.co_filename))
    monkeypatch.syspath_prepend(str(tmp_path / "via"))
    monkeypatch.syspath_prepend(str(tmp_path / "links"))
    import users_link_to_muletui  # noqa: F401, PLC0415 - muletui's file under a link
    import users_module_in_linked_dir  # noqa: F401, PLC0415 - the user's, through a link

    try:
        found = {name: (file, path) for name, file, path in module_files()}
    finally:
        del sys.modules["users_link_to_muletui"], sys.modules["users_module_in_linked_dir"]
    path = str(tmp_path / "via" / "users_module_in_linked_dir.py")
    assert found["users_module_in_linked_dir"] == (path, path)
    assert "users_link_to_muletui" not in found


PROBE = 99  # the mule id of the probe script (see started)


class Requests:
    """What a reloader asked for, the probe's part left out (see :func:`started`)."""

    def __init__(self) -> None:
        self.got: list[Request] = []
        self.probed = False
        self.errors: list[str] = []
        self._changed = asyncio.Event()

    def __call__(self, request: Request) -> None:
        if isinstance(request, RestartMules) and PROBE in request.mule_ids:
            self.probed = True
            ids = tuple(mule_id for mule_id in request.mule_ids if mule_id != PROBE)
            if not ids:
                return
            request = RestartMules(ids, tuple(script for script in request.scripts if script != "probe.py"))
        self.got.append(request)
        self._changed.set()

    async def wait(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.got) < count:
            self._changed.clear()
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"timed out waiting for {count} requests, got {self.got}"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)


@pytest.fixture
async def reloader():
    requests = Requests()
    reloader = Reloader(requests, requests.errors.append)
    yield reloader, requests
    await reloader.close()
    assert requests.errors == []


async def started(reloader: Reloader, requests: Requests, watched: Watched, tmp_path: Path) -> None:
    """Watch ``watched`` plus a probe script, and return once the watch sees changes: the probe
    is written every 100 ms until its request comes (a write before the watcher's thread set
    its watches would be missed)."""
    probe = tmp_path / "probe.py"
    probe.write_text("probe\n")
    scripts = {**watched.mule_scripts, str(probe): ("probe.py", (PROBE,))}
    reloader.watch(Watched(watched.stack_files, scripts))
    deadline = time.monotonic() + 10
    while not requests.probed:
        assert time.monotonic() < deadline, "the watch never started"
        probe.write_text("probe\n")
        await asyncio.sleep(0.1)


async def test_in_place_writes_and_editor_saves_both_count_and_other_files_do_not(reloader, tmp_path):
    reloader, requests = reloader
    app, script, other = tmp_path / "app.py", tmp_path / "m.py", tmp_path / "notes.txt"
    for path in (app, script):
        path.write_text("pass\n")
    await started(reloader, requests, Watched({str(app): "app.py"}, {str(script): ("m.py", (2,))}), tmp_path)
    other.write_text("not watched\n")
    script.write_text("print('in place')\n")
    await requests.wait(1)
    editor_save(app, "print('saved')\n")
    await requests.wait(2)
    assert requests.got == [RestartMules((2,), ("m.py",)), ReloadStack("app.py", str(app))]


async def test_a_burst_of_saves_makes_one_request_and_a_removal_none(reloader, tmp_path):
    reloader, requests = reloader
    script = tmp_path / "m.py"
    script.write_text("pass\n")
    await started(reloader, requests, Watched({}, {str(script): ("m.py", (1,))}), tmp_path)
    for n in range(5):
        editor_save(script, f"print({n})\n")
        await asyncio.sleep(0.03)  # 30 ms apart: a burst, within watchfiles' 50 ms step
    await requests.wait(1)
    script.unlink()
    (tmp_path / "m.py.bak").write_text("another file, after the removal\n")
    script.write_text("print('back')\n")  # written again after its removal: a save
    await requests.wait(2)
    assert requests.got == [RestartMules((1,), ("m.py",))] * 2


async def test_a_new_set_is_watched_without_a_gap_and_closing_stops_the_watch(reloader, tmp_path):
    reloader, requests = reloader
    first, second = tmp_path / "a.py", tmp_path / "b.py"
    for path in (first, second):
        path.write_text("pass\n")
    await started(reloader, requests, Watched({str(first): "a.py"}), tmp_path)
    reloader.watch(Watched({str(second): "b.py"}))  # same directory: the same watch goes on
    first.write_text("no longer watched\n")
    second.write_text("watched now\n")
    await requests.wait(1)
    assert requests.got == [ReloadStack("b.py", str(second))]
    began = time.monotonic()
    await reloader.close()
    assert time.monotonic() - began < 2.0
