"""Tracebacks of user code in real stacks: the user's frames only, as uWSGI prints them.

Expected values were printed by pyuwsgi 2.0.30 running the same code (``--master --http-socket
127.0.0.1:0``): its mule scripts, signal handlers, hooks and app run from C, and its ``uwsgi``
calls are C functions, so no frame but the user's shows. ``MULETUI_DEBUG=1`` shows muletui's.
"""

from __future__ import annotations

import re

import pytest
from test_uwsgi_module import PYUWSGI_NAMES_TEXT

# Where the stack imports muletui from: the installed copy under CI, the source tree when
# installed editable. Frames are recognised by the package's own path, wherever it lies.
MULETUI_DIR = "/muletui/"
DECORATORS = re.compile(r"/\S*/muletui/stack/shim/uwsgidecorators\.py")

APP = """
import uwsgi, uwsgidecorators

def fail(what):
    raise RuntimeError(what)

def plain(signum):
    fail("plain handler")
uwsgi.register_signal(30, "mule1", plain)

@uwsgidecorators.signal(31, target="mule1")
def decorated(signum):
    fail("decorated handler")

@uwsgidecorators.timer(1, target="mule1", signum=32)
def ticking(signum):
    fail("timer handler")

@uwsgidecorators.filemon(WATCHED, target="mule1", signum=33)
def watching(signum):
    fail("filemon handler")

@uwsgidecorators.mulefunc(1)
def remote(x):
    fail("mulefunc %s" % x)

def hot_call(signum):
    uwsgi.mule_msg(123)
uwsgi.register_signal(34, "mule1", hot_call)

def misspelt(signum):
    uwsgi.signls
uwsgi.register_signal(35, "mule1", misspelt)
"""

CALLER = """
import uwsgidecorators

@uwsgidecorators.mulefunc(1)
def remote(x):
    pass

def inner():
    raise KeyError("inner")

def outer():
    inner()

remote(5)
outer()
"""

BROKEN_IMPORT = """
def run():
    pass

raise LookupError("broken at import")
"""


def tracebacks(run, mule_id: int) -> list[list[str]]:
    """Every traceback on the stderr of ``mule_id`` (0: the stack root), from its ``Traceback``
    line to its exception line."""
    blocks: list[list[str]] = []
    block: list[str] | None = None
    for mid, stream, text in run.lines:
        if mid != mule_id or stream != "err":
            continue
        if text == "Traceback (most recent call last):":
            block = [text]
            blocks.append(block)
        elif block is not None:
            block.append(text)
            if not text.startswith(" "):
                block = None
    return blocks


def ending(run, mule_id: int, last_line: str) -> list[str]:
    """The first complete traceback of ``mule_id`` that ends with ``last_line``."""
    return next(block for block in tracebacks(run, mule_id) if block[-1] == last_line)


def line_of(source: str, text: str) -> int:
    """The number of the first line of ``source`` that reads ``text`` (leading spaces aside)."""
    return [line.strip() for line in source.splitlines()].index(text) + 1


def frame(path: str, source: str, text: str, name: str) -> str:
    """A traceback's ``File`` line for the line reading ``text`` of ``source``, written at ``path``."""
    return f'File "{path}", line {line_of(source, text)}, in {name}'


def frames(block: list[str]) -> list[str]:
    """The ``File`` lines of a traceback."""
    return [line.strip() for line in block if line.startswith("  File ")]


def assert_user_frames_only(block: list[str]) -> None:
    """No frame of muletui's but uwsgidecorators', which uWSGI shows too, and none of importlib."""
    text = DECORATORS.sub("uwsgidecorators.py", "\n".join(block))
    assert MULETUI_DIR not in text and "importlib" not in text, text


async def test_printed_tracebacks_show_the_users_frames_only(stack, write, tmp_path):
    watched = tmp_path / "watched"
    watched.mkdir()
    app = write("app.py", APP.replace("WATCHED", repr(str(watched))))
    caller = write("caller.py", CALLER)
    write("brokenmod.py", BROKEN_IMPORT)
    run = await stack(
        f"--wsgi-file={app}", "--mule", f"--mule={caller}", "--mule=brokenmod:run", f"--pythonpath={tmp_path}"
    )
    # Mule 1 takes the signals. Mules 2 and 3 end or crash at once and are respawned (backing
    # off on a busy machine), so the three are seldom up together: their own lines are awaited.
    await run.until(lambda: run.master.mules[1].pid, what="mule 1")
    for signum in (30, 31, 34, 35):
        run.master.raise_signal(signum)
    (watched / "touched").write_text("x")
    await run.line(r"^\w{3} \w{3} [ \d]\d [\d:]{8} \d{4} - error managing signal 33 on mule 1$", mule_id=1)
    await run.line(r"^\w{3} \w{3} [ \d]\d [\d:]{8} \d{4} - error managing signal 32 on mule 1$", mule_id=1)
    await run.line("^KeyError: 'inner'$", mule_id=2)
    await run.line("^LookupError: broken at import$", mule_id=3)
    await run.line("^RuntimeError: mulefunc 5$", mule_id=1)

    raised = frame(app, APP, "raise RuntimeError(what)", "fail")
    for name, call, error in [
        ("plain", 'fail("plain handler")', "plain handler"),
        ("decorated", 'fail("decorated handler")', "decorated handler"),
        ("ticking", 'fail("timer handler")', "timer handler"),
        ("watching", 'fail("filemon handler")', "filemon handler"),
    ]:
        assert frames(ending(run, 1, f"RuntimeError: {error}")) == [frame(app, APP, call, name), raised]
    # uwsgidecorators is a Python module under uWSGI too: its dispatcher's frame shows there as well.
    dispatcher, *rest = frames(ending(run, 1, "RuntimeError: mulefunc 5"))
    assert DECORATORS.fullmatch(dispatcher.split('"')[1]) and dispatcher.endswith(", in mule_msg_dispatcher")
    assert rest == [frame(app, APP, 'fail("mulefunc %s" % x)', "remote"), raised]
    # A uwsgi call that fails ends at the user's line, as a C function does.
    block = ending(run, 1, "TypeError: a bytes-like object is required, not 'int'")
    assert block[1:-1] == ["  " + frame(app, APP, "uwsgi.mule_msg(123)", "hot_call"), "    uwsgi.mule_msg(123)"]
    # The hint picks from pyuwsgi's names, not from the shim's own (its "signals" module).
    block = ending(run, 1, "AttributeError: module 'uwsgi' has no attribute 'signls'. Did you mean: 'signal'?")
    assert frames(block) == [frame(app, APP, "uwsgi.signls", "misspelt")]
    block = ending(run, 2, "KeyError: 'inner'")
    assert frames(block) == [
        frame(caller, CALLER, "outer()", "<module>"),
        frame(caller, CALLER, "inner()", "outer"),
        frame(caller, CALLER, 'raise KeyError("inner")', "inner"),
    ]
    block = ending(run, 3, "LookupError: broken at import")
    broken = str(tmp_path / "brokenmod.py")
    assert frames(block) == [frame(broken, BROKEN_IMPORT, 'raise LookupError("broken at import")', "<module>")]
    for mule_id in (1, 2, 3):
        for block in tracebacks(run, mule_id):
            assert_user_frames_only(block)


API = """
import sys, traceback, uwsgi

def show(label, call):
    try:
        call()
    except Exception as error:
        last = traceback.extract_tb(error.__traceback__)[-1]
        print("E", label, "->", type(error).__name__ + ":", error, "@", last.name, flush=True)

for label, call in [
    ("register_signal/4", lambda: uwsgi.register_signal(1, "", print, 4)),
    ("register_signal/2", lambda: uwsgi.register_signal(1, print)),
    ("register_signal/kw", lambda: uwsgi.register_signal(1, "", print, x=1)),
    ("register_signal/type", lambda: uwsgi.register_signal(1, 2, print)),
    ("register_signal/mule", lambda: uwsgi.register_signal(1, "", print)),
    ("add_timer/1", lambda: uwsgi.add_timer(1)),
    ("add_timer/kw", lambda: uwsgi.add_timer(1, 2, x=3)),
    ("add_rb_timer/1", lambda: uwsgi.add_rb_timer(1)),
    ("add_rb_timer/4", lambda: uwsgi.add_rb_timer(1, 2, 3, 4)),
    ("add_cron/2", lambda: uwsgi.add_cron(1, 2)),
    ("add_file_monitor/1", lambda: uwsgi.add_file_monitor(1)),
    ("signal_registered/0", lambda: uwsgi.signal_registered()),
    ("set_user_harakiri/2", lambda: uwsgi.set_user_harakiri(1, 2)),
    ("signal_wait/2", lambda: uwsgi.signal_wait(1, 2)),
    ("signal_wait/kw", lambda: uwsgi.signal_wait(x=1)),
    ("in_farm/2", lambda: uwsgi.in_farm("a", "b")),
    ("in_farm/type", lambda: uwsgi.in_farm(1)),
    ("log/0", lambda: uwsgi.log()),
    ("log/type", lambda: uwsgi.log(1)),
    ("is_locked/99", lambda: uwsgi.is_locked(99)),
    ("lock/99", lambda: uwsgi.lock(99)),
    ("unlock/type", lambda: uwsgi.unlock("a")),
    ("mule_msg/type", lambda: uwsgi.mule_msg(123)),
    ("mule_msg/farm", lambda: uwsgi.mule_msg(b"x", b"nofarm")),
]:
    show(label, call)
try:
    uwsgi.add_timer(1)
except TypeError:
    traceback.print_exc()
print("DIR", " ".join(dir(uwsgi)), flush=True)
sys.stderr.flush()
uwsgi.mule_get_mgs
"""

BROKEN_HOOK = """
import sys

def hook(kind, error, tb):
    raise OSError("hook broke")

sys.excepthook = hook
raise ValueError("original")
"""


async def test_uwsgi_calls_fail_as_c_functions_do(stack, write):
    api = write("api.py", API)
    hook = write("hook.py", BROKEN_HOOK)
    run = await stack(f"--mule={api}", f"--mule={hook}", "--locks=2")
    await run.line("^AttributeError", mule_id=1)
    said = {line.split(" -> ")[0][2:]: line.split(" -> ")[1] for line in run.matching("^E ", 1)}
    assert said == {
        "register_signal/4": "TypeError: register_signal() takes exactly 3 arguments (4 given) @ <lambda>",
        "register_signal/2": "TypeError: register_signal() takes exactly 3 arguments (2 given) @ <lambda>",
        "register_signal/kw": "TypeError: register_signal() takes no keyword arguments @ <lambda>",
        "register_signal/type": "TypeError: register_signal() argument 2 must be str, not int @ <lambda>",
        "register_signal/mule": "ValueError: unable to register signal @ <lambda>",
        "add_timer/1": "TypeError: add_timer() takes exactly 2 arguments (1 given) @ <lambda>",
        "add_timer/kw": "TypeError: add_timer() takes no keyword arguments @ <lambda>",
        "add_rb_timer/1": "TypeError: add_rb_timer() takes at least 2 arguments (1 given) @ <lambda>",
        "add_rb_timer/4": "TypeError: add_rb_timer() takes at most 3 arguments (4 given) @ <lambda>",
        "add_cron/2": "TypeError: add_cron() takes exactly 6 arguments (2 given) @ <lambda>",
        "add_file_monitor/1": "TypeError: add_file_monitor() takes exactly 2 arguments (1 given) @ <lambda>",
        "signal_registered/0": "TypeError: signal_registered() takes exactly 1 argument (0 given) @ <lambda>",
        "set_user_harakiri/2": "TypeError: set_user_harakiri() takes exactly 1 argument (2 given) @ <lambda>",
        "signal_wait/2": "TypeError: () takes at most 1 argument (2 given) @ <lambda>",
        "signal_wait/kw": "TypeError: signal_wait() takes no keyword arguments @ <lambda>",
        "in_farm/2": "TypeError: in_farm() takes at most 1 argument (2 given) @ <lambda>",
        "in_farm/type": "TypeError: in_farm() argument 1 must be str, not int @ <lambda>",
        "log/0": "TypeError: log() takes exactly 1 argument (0 given) @ <lambda>",
        "log/type": "TypeError: log() argument 1 must be str, not int @ <lambda>",
        "is_locked/99": "ValueError: Invalid lock number @ <lambda>",
        "lock/99": "ValueError: Invalid lock number @ <lambda>",
        "unlock/type": "TypeError: 'str' object cannot be interpreted as an integer @ <lambda>",
        "mule_msg/type": "TypeError: a bytes-like object is required, not 'int' @ <lambda>",
        "mule_msg/farm": "ValueError: unknown farm @ <lambda>",
    }
    # Caught and printed by the user: the traceback ends at the user's line.
    assert ending(run, 1, "TypeError: add_timer() takes exactly 2 arguments (1 given)")[1:-1] == [
        "  " + frame(api, API, "uwsgi.add_timer(1)", "<module>"), "    uwsgi.add_timer(1)"
    ]
    # dir() and so the "Did you mean" hint know pyuwsgi's names, not the shim's own.
    shown = run.matching("^DIR ", 1)[0].split()[1:]
    dunders = ["__doc__", "__loader__", "__name__", "__package__", "__spec__"]
    assert sorted(shown) == sorted(PYUWSGI_NAMES_TEXT.split() + dunders)
    block = ending(run, 1, "AttributeError: module 'uwsgi' has no attribute 'mule_get_mgs'. Did you mean: 'mule_get_msg'?")
    assert frames(block) == [frame(api, API, "uwsgi.mule_get_mgs", "<module>")]
    # A user's excepthook prints the errors of user code, as uWSGI's PyErr_Print runs it; one
    # that raises is reported as Python reports it.
    await run.line("^ValueError: original$", mule_id=2)
    assert [text for mid, stream, text in run.lines if mid == 2 and stream == "err"][:11] == [
        "Error in sys.excepthook:", "Traceback (most recent call last):",
        "  " + frame(hook, BROKEN_HOOK, 'raise OSError("hook broke")', "hook"),
        '    raise OSError("hook broke")', "OSError: hook broke", "", "Original exception was:",
        "Traceback (most recent call last):",
        "  " + frame(hook, BROKEN_HOOK, 'raise ValueError("original")', "<module>"),
        '    raise ValueError("original")', "ValueError: original",
    ]


BROKEN_APP = """
import uwsgi
uwsgi.add_timer(1)
"""

MULE = """
import uwsgi
uwsgi.lock(99)
"""


@pytest.mark.parametrize("debug", [False, True])
async def test_app_import_errors_and_the_debug_switch(stack, write, debug):
    app = write("app.py", BROKEN_APP)
    script = write("m.py", MULE)
    switch = ["--env=MULETUI_DEBUG=1"] if debug else []
    run = await stack(*switch, f"--wsgi-file={app}", f"--mule={script}", "--locks=1")
    await run.line("^ValueError: Invalid lock number$", mule_id=1)
    await run.line("^TypeError: add_timer", mule_id=0)
    app_error = ending(run, 0, "TypeError: add_timer() takes exactly 2 arguments (1 given)")
    mule_error = ending(run, 1, "ValueError: Invalid lock number")
    if not debug:
        assert app_error[1:-1] == ["  " + frame(app, BROKEN_APP, "uwsgi.add_timer(1)", "<module>"), "    uwsgi.add_timer(1)"]
        assert mule_error[1:-1] == ["  " + frame(script, MULE, "uwsgi.lock(99)", "<module>"), "    uwsgi.lock(99)"]
        return
    app_text, mule_text = "\n".join(app_error), "\n".join(mule_error)
    assert f"{MULETUI_DIR}stack/root.py" in app_text and "<frozen importlib._bootstrap" in app_text
    assert f"{MULETUI_DIR}stack/builtin_calls.py" in app_text
    assert f"{MULETUI_DIR}stack/mule.py" in mule_text and f"{MULETUI_DIR}stack/locks.py" in mule_text
