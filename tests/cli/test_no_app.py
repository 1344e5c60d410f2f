"""An app that does not load: uWSGI's lines, a hint naming ``--need-app``, and the mules run;
with ``--need-app``, uWSGI's ``GAME OVER`` and exit status 22 before any mule (issue 16).

pyuwsgi 2.0.30 with ``--wsgi-file boom.py --mule=m.py`` logged the traceback, ``unable to load
app 0 (mountpoint='') (callable not found or import error)``, ``*** no app loaded. going in
full dynamic mode ***``, then spawned its mules; with ``--need-app`` it logged ``*** no app
loaded. GAME OVER ***`` instead and exited with status 22, spawning nothing. A missing file
gave ``failed to open python file missing.py`` in place of the traceback.
"""

from __future__ import annotations

import re
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "console"))

from conftest import wait_gone
from harness import log_texts, until

STAMP = r"\d\d:\d\d:\d\d\.\d{3}"
BOOM = """
import os
print("root pid", os.getpid(), flush=True)
raise RuntimeError("boom at import")
"""
MULE = """
import uwsgi
print("mule running", flush=True)
while True:
    uwsgi.signal_wait()
"""


def master_lines(output: str) -> list[str]:
    return re.findall(rf"(?m)^{STAMP} master  [|!] (.*)$", output)


def test_a_missing_app_file_is_logged_hinted_and_the_mules_run(cli, write):
    write("m.py", MULE)
    run = cli("--headless", "--wsgi-file=missing.py", "--mule=m.py")
    run.read_until(r"mule 1  \| mule running")
    cli.track_root(run)
    run.process.send_signal(signal.SIGINT)
    assert run.wait(15) == 0
    lines = master_lines(run.output)
    start = lines.index("failed to open python file missing.py")
    assert lines[start : start + 3] == [
        "failed to open python file missing.py",
        "unable to load app 0 (mountpoint='') (callable not found or import error)",
        "*** no app loaded. going in full dynamic mode ***",
    ]
    assert lines[start + 3].startswith("muletui hint: The app did not load")
    assert "Add --need-app to stop instead" in lines[start + 3]


def test_need_app_makes_it_game_over_with_status_22(cli, write):
    write("m.py", MULE)
    write("boom.py", BOOM)
    run = cli("--headless", "--need-app", "--wsgi-file=boom.py", "--mule=m.py")
    assert run.wait(15) == 22
    # the app's stdout line comes through another pipe than its traceback: either may be read first
    lines = [line for line in master_lines(run.output) if not line.startswith("root pid")]
    assert lines[lines.index("RuntimeError: boom at import") :][:3] == [
        "RuntimeError: boom at import",
        "unable to load app 0 (mountpoint='') (callable not found or import error)",
        "*** no app loaded. GAME OVER ***",
    ]
    assert lines[-1] == "muletui: no app loaded, and --need-app is set"
    assert "spawned uWSGI mule" not in run.output and "goodbye" not in run.output
    assert wait_gone([int(re.search(r"root pid (\d+)", run.output).group(1))]) == []


async def test_the_console_shows_the_traceback_and_the_hint_and_runs_the_mules(console, write):
    app = console(f"--wsgi-file={write('boom.py', BOOM)}", f"--mule={write('m.py', MULE)}")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: "mule running" in log_texts(app), what="the mule")
        assert "RuntimeError: boom at import" in log_texts(app)
        assert "no-app" in app.model.hints
        assert app.model.failure is None


async def test_the_console_with_need_app_shows_the_failure_and_keeps_status_22(console, write):
    app = console("--need-app", f"--wsgi-file={write('boom.py', BOOM)}", f"--mule={write('m.py', MULE)}")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.failure_status == 22, what="the failure")
        assert app.model.failure == "no app loaded, and --need-app is set"
        assert "*** no app loaded. GAME OVER ***" in log_texts(app)
