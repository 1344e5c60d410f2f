"""Loading the app as uWSGI 2.0.30's Python plugin does: a failure is logged, the mules run.

Measured under pyuwsgi 2.0.30 (``--master --http-socket ... --mule=m.py`` plus the app options):
each failed app logs why (its traceback, ``failed to open python file X``, ``unable to find
"application" callable in file X`` or ``"application" must be a callable object in file X``;
nothing more for a ``--module`` without the callable), then ``unable to load app 0
(mountpoint='') (callable not found or import error)``; with no app loaded the master logs
``*** no app loaded. going in full dynamic mode ***`` and spawns the mules, or, with
``--need-app``, logs ``*** no app loaded. GAME OVER ***`` and exits with status 22 before
any mule. A failed ``--import`` logs its traceback (or the ``failed to open`` line) and nothing
else. ``uwsgi.ready()`` is ``None`` while the app imports and ``True`` afterwards, in the
app's threads and in every mule.
"""

from __future__ import annotations

import pytest

from muletui.engine import events
from muletui.engine.master import StackStartError

UNABLE = "unable to load app 0 (mountpoint='') (callable not found or import error)"
DYNAMIC = "*** no app loaded. going in full dynamic mode ***"
MULE = """
import uwsgi
print("mule ready()", uwsgi.ready(), flush=True)
while True:
    uwsgi.signal_wait()
"""
FILES = {
    "boom.py": "def explode():\n    raise RuntimeError('boom at import')\nexplode()\n",
    "noapp.py": "print('noapp imported', flush=True)\n",
    "notcall.py": "application = 5\n",
    "good.py": "def application(environ, start_response):\n    return []\ndef serve(environ, start_response):\n    return []\n",
}


def root_err(run) -> list[str]:
    """What the stack root wrote on stderr and the master's "no app" lines, in order."""
    return [
        text for mule, stream, text in run.lines
        if mule == 0 and (stream == "err" or stream == "log" and text.startswith("*** no app"))
    ]


@pytest.fixture
def files(write) -> None:
    for name, text in FILES.items():
        write(name, text)
    write("goodmod.py", FILES["good.py"])
    write("m.py", MULE)


FAILED = {
    "file raising at import": (["--wsgi-file=boom.py"], "RuntimeError: boom at import"),
    "file missing": (["--wsgi-file=missing.py"], "failed to open python file missing.py"),
    "file without application": (["--wsgi-file=noapp.py"], 'unable to find "application" callable in file noapp.py'),
    "application not callable": (["--wsgi-file=notcall.py"], '"application" must be a callable object in file notcall.py'),
    "--callable not in the file": (
        ["--wsgi-file=good.py", "--callable=nope"], 'unable to find "application" callable in file good.py'
    ),
    "module without the callable": (["--module=goodmod:nope"], None),
    "module missing": (["--module=missingmod"], "ModuleNotFoundError: No module named 'missingmod'"),
}


@pytest.mark.parametrize("case", list(FAILED))
async def test_an_app_that_does_not_load_is_logged_and_the_mules_run(stack, files, case):
    argv, why = FAILED[case]
    run = await stack(*argv, "--mule=m.py")
    await run.line("^mule ready[(][)] True$", mule_id=1)
    lines = root_err(run)
    assert lines[lines.index(UNABLE) :][:2] == [UNABLE, DYNAMIC]
    if why is None:
        assert lines.index(UNABLE) == 0
    else:
        assert lines[lines.index(UNABLE) - 1] == why
    assert not run.of(events.StackFailed)


@pytest.mark.parametrize(
    "argv", [["--wsgi-file=good.py"], ["--wsgi-file=good.py", "--callable=serve"], ["--module=goodmod:serve"],
             ["--module=goodmod"], ["--module=goodmod", "--callable=serve"]],
)
async def test_an_app_that_loads_says_nothing(stack, files, argv):
    run = await stack(*argv, "--mule=m.py")
    await run.line("^mule ready[(][)] True$", mule_id=1)
    assert root_err(run) == []


async def test_a_failed_import_prints_its_traceback_and_the_app_still_loads(stack, files):
    run = await stack("--import=boom.py", "--import=missing.py", "--wsgi-file=good.py", "--mule=m.py")
    await run.line("^mule ready[(][)] True$", mule_id=1)
    lines = root_err(run)
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[-2:] == ["RuntimeError: boom at import", "failed to open python file missing.py"]
    assert UNABLE not in lines and DYNAMIC not in lines


@pytest.mark.parametrize("argv", [["--wsgi-file=boom.py"], []], ids=["failed app", "no app at all"])
async def test_need_app_without_an_app_stops_before_any_mule_with_status_22(stack, files, argv):
    with pytest.raises(StackStartError) as failure:
        await stack(*argv, "--need-app", "--mule=m.py")
    assert failure.value.status == 22
    assert str(failure.value) == "no app loaded, and --need-app is set"


async def test_need_app_false_and_need_app_with_an_app_run(stack, files):
    run = await stack("--wsgi-file=noapp.py", "--need-app=false", "--mule=m.py")
    await run.line("^mule ready[(][)] True$", mule_id=1)
    assert DYNAMIC in root_err(run)
    run = await stack("--wsgi-file=good.py", "--need-app", "--mule=m.py")
    await run.line("^mule ready[(][)] True$", mule_id=1)


READY_APP = """
import threading, time, uwsgi
print("import ready()", uwsgi.ready(), flush=True)
def watch():
    while not uwsgi.ready():
        time.sleep(0.005)
    print("thread ready()", uwsgi.ready(), flush=True)
threading.Thread(target=watch, daemon=True).start()
def application(environ, start_response):
    return []
"""


async def test_ready_is_none_while_the_app_imports_and_true_afterwards(stack, files, write):
    run = await stack(f"--wsgi-file={write('ready_app.py', READY_APP)}", "--mule=m.py")
    await run.line("^thread ready[(][)] True$", mule_id=0)
    await run.line("^mule ready[(][)] True$", mule_id=1)
    assert run.texts(0)[0] == "import ready() None"
