"""``--touch-mules-reload`` files, checked as uWSGI 2.0.30 checks them (measured: a file missing
at start is logged once at the master's first check, ~1 s after the start,
``unable to stat() F, events will be triggered as soon as the file is created``; creating it
reloads the mules, ``*** F has been touched... mules reload !!! ***``; ``--exit-on-reload``
changes nothing there)."""

from __future__ import annotations

import os

from muletui.engine import events
from muletui.engine.touches import TouchFile, first_touched


def test_a_file_missing_at_first_is_logged_once_and_fires_when_created(tmp_path):
    path = tmp_path / "reload"
    touch = TouchFile(str(path))
    logged: list[str] = []
    assert not touch.check(logged.append)
    assert not touch.check(logged.append)
    assert logged == [f"unable to stat() {path}, events will be triggered as soon as the file is created"]
    path.touch()
    assert touch.check(logged.append)
    assert not touch.check(logged.append)
    assert len(logged) == 1


def test_a_present_file_fires_when_its_mtime_changes_and_when_removed(tmp_path):
    path = tmp_path / "reload"
    path.touch()
    os.utime(path, ns=(10**18, 10**18))
    touch = TouchFile(str(path))  # takes the mtime
    logged: list[str] = []
    assert not touch.check(logged.append)
    os.utime(path, ns=(10**18 + 1, 10**18 + 1))  # a nanosecond: uWSGI's whole seconds miss it
    assert touch.check(logged.append)
    assert not touch.check(logged.append)
    os.utime(path, ns=(1, 1))  # set back: uWSGI fires only when it grew
    assert touch.check(logged.append)
    path.unlink()
    assert touch.check(logged.append)  # removed
    assert not touch.check(logged.append)
    assert logged == []  # a file that was there is not "unable to stat()"


def test_the_first_touched_file_is_the_one_reported(tmp_path):
    files = [TouchFile(str(tmp_path / name)) for name in ("a", "b")]
    assert first_touched(files, lambda _line: None) is None  # both missing
    (tmp_path / "a").touch()
    (tmp_path / "b").touch()
    assert first_touched(files, lambda _line: None) is files[0]
    assert first_touched(files, lambda _line: None) is files[1]  # uWSGI's next cycle
    assert first_touched(files, lambda _line: None) is None


async def test_creating_a_missing_touch_file_reloads_the_mules(stack, write, tmp_path):
    reload_file = tmp_path / "reload-me"
    script = write("stay.py", "import time\nprint('up', flush=True)\ntime.sleep(60)\n")
    run = await stack(f"--mule={script}", f"--touch-mules-reload={reload_file}", "--exit-on-reload")
    await run.line("^up")
    unable = f"unable to stat() {reload_file}, events will be triggered as soon as the file is created"
    await run.until(lambda: unable in run.texts(0), timeout=3, what="the unable to stat() line")
    reload_file.touch()
    await run.line(rf"^\*\*\* {reload_file} has been touched\.\.\. mules reload !!! \*\*\*$", timeout=3)
    await run.line("^up", count=2)
    assert run.texts(0).count(unable) == 1
    assert len(run.of(events.MuleSpawned)) == 2 and not run.matching("GAME OVER|^OOOPS")
