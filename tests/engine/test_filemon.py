"""One change, one signal: a touch or a write that makes two inotify events (CREATE and ATTRIB,
CREATE and MODIFY, two MODIFYs) fires a file monitor once, however the events split across
reads. uWSGI 2.0.30 fires once per read, so one or two signals for those (measured: 98 for 50
touches creating files, 91 for 50 rewrites of a watched file; 50 for 50 touches of an existing
file, a single ATTRIB)."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from muletui.engine.filemon import FileMonitor, FileMonitors

OPERATIONS: dict[str, tuple[bool, Callable[[Path, int], object]]] = {  # name: (watch the dir, operation)
    "touch creating a file": (True, lambda d, i: subprocess.run(["touch", str(d / f"t{i}")], check=True)),
    "write creating a file": (True, lambda d, i: (d / f"w{i}").write_text("x")),
    "rewrite of a watched file": (False, lambda d, i: (d / "watched").write_text(str(i))),
    "append to a watched file": (False, lambda d, i: subprocess.run(["sh", "-c", f"echo {i} >> {d / 'watched'}"], check=True)),
    "touch of a watched file": (False, lambda d, i: os.utime(d / "watched")),
    "mkdir in a watched dir": (True, lambda d, i: (d / f"d{i}").mkdir()),
}


@pytest.mark.parametrize("name", OPERATIONS)
async def test_each_change_fires_once(tmp_path, name):
    watch_dir, operation = OPERATIONS[name]
    (tmp_path / "watched").write_text("")
    fired: list[tuple[str, ...]] = []
    monitors = FileMonitors(lambda monitor: fired.append(monitor.last_changes))
    monitors.add(1, str(tmp_path if watch_dir else tmp_path / "watched"))
    loop = asyncio.get_running_loop()
    try:
        for i in range(20):
            await loop.run_in_executor(None, operation, tmp_path, i)
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
    finally:
        await monitors.close()
    assert len(fired) == 20, fired
    assert all(changes for changes in fired)


async def test_a_writer_that_keeps_its_file_open_fires_after_the_settle_time(tmp_path):
    fired: list[FileMonitor] = []
    monitors = FileMonitors(fired.append)
    monitors.add(1, str(tmp_path))
    log = os.open(tmp_path / "log", os.O_WRONLY | os.O_CREAT)
    try:
        os.write(log, b"line\n")
        for _ in range(100):
            if fired:
                break
            await asyncio.sleep(0.005)
        assert fired and fired[0].last_changes == ("created log", "modified log")
    finally:
        os.close(log)
        await monitors.close()


async def test_fifty_touches_run_the_handler_fifty_times(stack, write, tmp_path):
    watched = tmp_path / "watched"
    watched.mkdir()
    app = write(
        "app.py",
        f"""
        from uwsgidecorators import filemon

        @filemon({str(watched)!r}, target="mule1")
        def changed(signum):
            print("changed", flush=True)
        """,
    )
    run = await stack(f"--wsgi-file={app}", "--mule")
    await run.until(lambda: run.master.mules[1].pid, what="mule 1")
    for i in range(50):
        touch = await asyncio.create_subprocess_exec("touch", str(watched / f"new{i}"))  # CREATE, then ATTRIB
        assert await touch.wait() == 0
        await asyncio.sleep(0.01)
    await run.line("^changed$", count=50)
    await asyncio.sleep(0.2)
    assert len(run.matching("^changed$")) == 50
