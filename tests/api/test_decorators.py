"""uwsgidecorators in real stacks, against uWSGI 2.0.30's measured behaviour (§7).

Each app imports uwsgidecorators at import time, in the stack root, as a uWSGI app would in
the master; the decorated code then runs in the forked mules.
"""

from __future__ import annotations

import pickle
from pathlib import Path

from muletui.engine import events

PREAMBLE = """
import threading, time, uwsgi
def application(environ, start_response):  # a WSGI app, so no "unable to load app" lines
    return []
def where():
    return f"in mule {uwsgi.mule_id()}"
def show(label, call):
    try:
        print(label, "->", repr(call()), flush=True)
    except Exception as e:
        print(label, "-> EXC", type(e).__name__ + ":", e, flush=True)
"""


def stream(run, mule_id: int, name: str) -> list[str]:
    """One process's lines on one stream (``log`` = the master's own lines)."""
    return [text for mid, s, text in run.lines if mid == mule_id and s == name]


def mulefunc_call(name: str, *args: object) -> bytes:
    """The message a ``@mulefunc`` function sends when called."""
    return pickle.dumps({"service": "uwsgi_mulefunc", "func": name, "args": args, "kwargs": {}})


IMPORT_EFFECTS = (
    PREAMBLE
    + """
import uwsgidecorators
from uwsgidecorators import spool, spoolforever, spoolraw, timer
print("hooks", uwsgi.post_fork_hook.__name__, uwsgi.mule_msg_hook.__name__, uwsgi.spooler.__name__, flush=True)
for decorator in (spool, spoolraw, spoolforever):
    def job(arguments):
        pass
    show(decorator.__name__, lambda: decorator(job))
first, second = timer(60), timer(60)  # both pick their number before either registers it
show("numbers", lambda: (first.num, second.num))
show("first", lambda: first(lambda signum: None).__name__)
show("second", lambda: second(lambda signum: None))
print("end", flush=True)
"""
)


async def test_import_side_effects_and_spool_decorators(stack, write):
    run = await stack(f"--wsgi-file={write('app.py', IMPORT_EFFECTS)}", "--mules", "1")
    await run.line("^end", mule_id=0)
    await run.line("you cannot re-register", mule_id=0)
    assert stream(run, 0, "out") == [
        "hooks postfork_chain_hook mule_msg_dispatcher manage_spool_request",
        "spool -> EXC Exception: you have to enable the uWSGI spooler to use @_spool decorator",
        "spoolraw -> EXC Exception: you have to enable the uWSGI spooler to use @_spoolraw decorator",
        "spoolforever -> EXC Exception: you have to enable the uWSGI spooler to use @_spoolforever decorator",
        "numbers -> (0, 0)",
        "first -> '<lambda>'",
        "second -> EXC ValueError: unable to register signal",
        "end",
    ]
    assert stream(run, 0, "err") == [
        "[uwsgi-signal] signum 0 registered (wid: 0 modifier1: 0 target: default, any worker)",
        "[uwsgi-signal] you cannot re-register a signal as the master !!!",
    ]


POSTFORK = (
    PREAMBLE
    + """
from uwsgidecorators import postfork
@postfork
def first():
    print("postfork", where(), flush=True)
@postfork(1)
def only_in_worker_1():
    print("postfork(1) ran", where(), flush=True)
@postfork
def second():
    print("second postfork", where(), flush=True)
print("only_in_worker_1 is", only_in_worker_1, flush=True)
"""
)


async def test_postfork_runs_in_every_mule_after_every_fork(stack, write):
    program = write(
        "program.py",
        "import time, uwsgi\nprint('program of mule', uwsgi.mule_id(), flush=True)\ntime.sleep(60)\n",
    )
    run = await stack(f"--wsgi-file={write('app.py', POSTFORK)}", "--mules", "2", f"--mule={program}")
    await run.line("^program of mule 3", mule_id=3)
    await run.line("^second postfork", count=3)
    assert stream(run, 0, "out") == ["only_in_worker_1 is None"]  # not in the root: it does not fork itself
    for mule_id in (1, 2):
        assert stream(run, mule_id, "out") == [
            f"postfork in mule {mule_id}",
            f"second postfork in mule {mule_id}",
        ]
    assert stream(run, 3, "out") == ["postfork in mule 3", "second postfork in mule 3", "program of mule 3"]
    run.master.kill_mule(1)
    await run.line("^second postfork in mule 1", mule_id=1, count=2)
    assert stream(run, 1, "out") == ["postfork in mule 1", "second postfork in mule 1"] * 2
    assert not run.matching("postfork\\(1\\) ran")


TIMER = (
    PREAMBLE
    + """
from uwsgidecorators import get_free_signal, timer
print("free signal", get_free_signal(), flush=True)
@timer(1, target="mule")
def tick(signum):
    print("tick", signum, where(), flush=True)
print("free signal", get_free_signal(), "and tick is", tick.__name__, flush=True)
"""
)

READER = """
import uwsgi
while True:
    print("programmed mule got", uwsgi.mule_get_msg(), flush=True)
"""


async def test_first_free_signal_is_0_and_a_mule_timer_runs_in_a_signal_mode_mule(stack, write):
    run = await stack(
        f"--wsgi-file={write('app.py', TIMER)}", f"--mule={write('reader.py', READER)}", "--mules", "2"
    )
    await run.line("^free signal 1", mule_id=0)
    await run.line("^.uwsgi-signal. signum 0 registered", mule_id=0)
    assert stream(run, 0, "out") == ["free signal 0", "free signal 1 and tick is tick"]
    assert stream(run, 0, "err") == ["[uwsgi-signal] signum 0 registered (wid: 0 modifier1: 0 target: mule)"]
    await run.line("^tick", timeout=3)
    await run.line("^tick", count=2, timeout=3)
    assert set(run.matching("^tick")) <= {"tick 0 in mule 2", "tick 0 in mule 3"}
    assert run.texts(1) == []  # the programmed mule never takes a 'mule' signal


SCHEDULES = (
    PREAMBLE
    + """
from uwsgidecorators import cron, filemon, rbtimer, signal
@signal(17, target="mule1")
def on_17(signum):
    print("signal", signum, where(), flush=True)
@rbtimer(1, target="mule2")
def every_second(signum):
    print("rbtimer", signum, where(), flush=True)
@cron(-1, -1, -1, -1, -1, target="mule1")
def every_minute(signum):
    print("cron", signum, where(), flush=True)
@filemon("watched", target="mules")
def changed(signum):
    print("filemon", signum, where(), flush=True)
print("names", on_17.__name__, every_second.__name__, every_minute.__name__, changed.__name__, flush=True)
"""
)


async def test_signal_rbtimer_cron_and_filemon_register_and_run(stack, write, tmp_path: Path):
    (tmp_path / "watched").mkdir()
    run = await stack(f"--wsgi-file={write('app.py', SCHEDULES)}", "--mules", "2")
    await run.line("^names", mule_id=0)
    await run.line("^.uwsgi-signal. signum 2 registered", mule_id=0)
    assert stream(run, 0, "out") == ["names on_17 every_second every_minute changed"]
    assert stream(run, 0, "err") == [
        "[uwsgi-signal] signum 17 registered (wid: 0 modifier1: 0 target: mule1)",
        "[uwsgi-signal] signum 0 registered (wid: 0 modifier1: 0 target: mule2)",
        "[uwsgi-signal] signum 1 registered (wid: 0 modifier1: 0 target: mule1)",
        "[uwsgi-signal] signum 2 registered (wid: 0 modifier1: 0 target: mules)",
    ]
    assert [(e.timer_kind, e.signum) for e in run.of(events.TimerAdded)] == [
        ("rb_timer", 0),
        ("cron", 1),
        ("file_monitor", 2),
    ]
    # a "-1 -1 -1 -1 -1" cron entry fires at once, then every 60 s
    assert await run.line("^cron", mule_id=1) == ["cron 1 in mule 1"]
    assert "[uwsgi-cron] routing signal 1" in stream(run, 0, "log")
    run.master.raise_signal(17)
    assert await run.line("^signal", mule_id=1) == ["signal 17 in mule 1"]
    await run.line("^rbtimer", mule_id=2, count=1, timeout=3)  # by now the file monitor is watching
    (tmp_path / "watched" / "new").write_text("x")
    await run.line("^filemon", count=2)
    assert sorted(run.matching("^filemon")) == ["filemon 2 in mule 1", "filemon 2 in mule 2"]
    await run.line("^rbtimer", mule_id=2, count=2, timeout=3)
    assert set(run.matching("^rbtimer")) == {"rbtimer 0 in mule 2"}
    assert not run.matching("^(signal|cron)", 2) and not run.matching("^rbtimer", 1)


MULEFUNC = (
    PREAMBLE
    + """
from uwsgidecorators import mule, mulefunc
@mulefunc
def offload(a, b=0):
    print("offload", a, b, where(), flush=True)
@mulefunc(2)
def on_two(x):
    print("on_two", x, where(), flush=True)
@mulefunc(b"fa")
def on_farm(x):
    print("on_farm", x, where(), flush=True)
@mulefunc("fa")
def on_farm_str(x):
    print("on_farm_str ran", flush=True)
print("types", type(offload).__name__, type(on_two).__name__, type(on_farm_str).__name__, flush=True)
@mule(1)
def caller():
    show("offload(1, b=2)", lambda: offload(1, b=2))
    show("on_two('x')", lambda: on_two("x"))
    show("on_farm('y')", lambda: on_farm("y"))
    show("on_farm_str('z')", lambda: on_farm_str("z"))
"""
)


async def test_mulefunc_sends_the_call_to_any_mule_mule_n_or_a_farm(stack, write):
    run = await stack(f"--wsgi-file={write('app.py', MULEFUNC)}", "--mules", "4", "--farm", "fa:3,4")
    await run.line("^types", mule_id=0)
    assert stream(run, 0, "out") == ["types mulefunc method method"]
    await run.line("^on_farm_str", mule_id=1)
    assert stream(run, 1, "out")[:4] == [
        "offload(1, b=2) -> None",
        "on_two('x') -> None",
        "on_farm('y') -> None",
        "on_farm_str('z') -> EXC ValueError: invalid mule",
    ]
    await run.line("^(offload|on_two|on_farm) [^(]", count=3)
    assert len(run.matching("^offload 1 2 in mule [1-4]$")) == 1
    assert run.matching("^on_two ") == run.matching("^on_two ", 2) == ["on_two x in mule 2"]
    assert run.matching("^on_farm ") in (["on_farm y in mule 3"], ["on_farm y in mule 4"])
    assert not run.matching("^on_farm_str ran")


LOOPS = (
    PREAMBLE
    + """
from uwsgidecorators import farm, mule, mulefunc, muleloop, mulemsg, postfork
@postfork
def early():
    print("early postfork", where(), flush=True)
@mulefunc
def ping():
    print("ping", where(), flush=True)
@mule(1)
def brain():
    print("brain once", where(), flush=True)
@muleloop(2)
def loop_body():
    print("loop iteration", where(), flush=True)
    time.sleep(0.2)
@mulemsg(3)
def got_message(message):
    print("mulemsg got", message, where(), flush=True)
@farm("fb")
def farm_worker(message):
    print("farm got", message, where(), flush=True)
    time.sleep(1)  # busy: the next job goes to the other member
@postfork
def late():
    print("late postfork", where(), flush=True)
print("names", brain, loop_body, got_message, farm_worker, flush=True)
"""
)


async def test_mule_muleloop_mulemsg_and_farm_loops(stack, write):
    run = await stack(f"--wsgi-file={write('app.py', LOOPS)}", "--mules", "5", "--farm", "fb:4,5")
    await run.line("^names", mule_id=0)
    assert stream(run, 0, "out") == ["names None None None None"]
    await run.line("^early postfork", count=5)
    await run.line("^late postfork", mule_id=1)
    run.master.send_message(mulefunc_call("ping"), 1)  # after @mule(1) returned, mule 1 is a signal-mode mule
    await run.line("^ping", mule_id=1)
    assert stream(run, 1, "out") == [
        "early postfork in mule 1",
        "brain once in mule 1",
        "late postfork in mule 1",
        "ping in mule 1",
    ]
    run.master.send_message(b"plain", 3)
    assert await run.line("^mulemsg", mule_id=3) == ["mulemsg got b'plain' in mule 3"]
    run.master.send_message(b"job1", "fb")
    run.master.send_message(b"job2", "fb")
    await run.line("^farm got", count=2)
    assert sorted(t.rsplit(" ", 1)[1] for t in run.matching("^farm got")) == ["4", "5"]
    await run.line("^loop iteration", mule_id=2, count=3)
    assert set(stream(run, 2, "out")) == {"early postfork in mule 2", "loop iteration in mule 2"}
    assert run.matching("^late postfork") == ["late postfork in mule 1"]  # the loops never return
    assert len(run.matching("^brain once")) == 1


LOCK = (
    PREAMBLE
    + """
from uwsgidecorators import lock, mule
@lock
def locked(label):
    print(label, "is_locked(0) ->", uwsgi.is_locked(0), "is_locked(1) ->", uwsgi.is_locked(1), flush=True)
    return "result"
@lock
def failing():
    raise RuntimeError("boom")
@mule(1)
def use():
    print("returns", locked("inside:"), flush=True)
    print("after: is_locked(0) ->", uwsgi.is_locked(0), flush=True)
    show("failing()", failing)
    print("after an exception: is_locked(0) ->", uwsgi.is_locked(0), flush=True)
"""
)


async def test_lock_decorator_runs_under_lock_0(stack, write):
    run = await stack(f"--wsgi-file={write('app.py', LOCK)}", "--mules", "1", "--locks", "1")
    await run.line("^after an exception", mule_id=1)
    assert stream(run, 1, "out") == [
        "inside: is_locked(0) -> True is_locked(1) -> False",
        "returns result",
        "after: is_locked(0) -> False",
        "failing() -> EXC RuntimeError: boom",
        "after an exception: is_locked(0) -> False",
    ]


THREAD = (
    PREAMBLE
    + """
from uwsgidecorators import mule, thread
printed = threading.Event()
@thread
def background(x, y):
    current = threading.current_thread()
    print(f"background {x} {y} daemon {current.daemon} main {current is threading.main_thread()}", flush=True)
    printed.set()
@mule(1)
def start():
    returned = background(1, 2)
    printed.wait(5)
    print(f"returned {returned.__name__} {returned is not background}", flush=True)
"""
)


async def test_thread_decorator_starts_a_daemon_thread_and_returns_f(stack, write):
    run = await stack(f"--wsgi-file={write('app.py', THREAD)}", "--mules", "1")
    await run.line("^returned", mule_id=1)
    assert stream(run, 1, "out") == ["background 1 2 daemon True main False", "returned background True"]


HARAKIRI = (
    PREAMBLE
    + """
from uwsgidecorators import harakiri, mule
@harakiri(1)
def slow():
    print("slow starts", flush=True)
    time.sleep(3)
    print("slow ends", flush=True)
@harakiri(1)
def quick():
    return "done"
@mule(1)
def run_slow():
    slow()
@mule(2)
def run_quick():
    print("quick ->", quick(), flush=True)
    time.sleep(2.5)
    print("mule 2 outlived its harakiri", flush=True)
"""
)


async def test_harakiri_kills_a_mule_whose_function_overruns(stack, write):
    run = await stack(f"--wsgi-file={write('app.py', HARAKIRI)}", "--mules", "2")
    await run.until(lambda: run.of(events.MuleSpawned), what="mule 1")
    pid = next(e.pid for e in run.of(events.MuleSpawned) if e.mule_id == 1)
    await run.line(r"^OOOPS mule 1 ", mule_id=0, timeout=5)
    log = stream(run, 0, "log")
    harakiri = log.index(f"*** HARAKIRI ON MULE 1 (pid: {pid}) ***")
    dump = log[harakiri + 1 : log.index(f"OOOPS mule 1 (pid: {pid}) crippled...trying respawn...")]
    assert dump[0] == "*** uWSGI Python tracebacker output ***"  # muletui's addition: the stack
    assert any("function = slow line = time.sleep" in line for line in dump), dump
    await run.line("^mule 2 outlived", mule_id=2)
    assert "slow starts" in run.texts(1) and "slow ends" not in run.texts(1)
    assert stream(run, 2, "out") == ["quick -> done", "mule 2 outlived its harakiri"]
    assert not run.matching("HARAKIRI ON MULE 2")


PICKLE_CONSUMER = (
    PREAMBLE
    + """
from uwsgidecorators import mulefunc
@mulefunc
def after():
    print("mulefunc ran", where(), flush=True)
"""
)


async def test_importing_the_decorators_makes_signal_mode_mules_pickle_consumers(stack, write):
    run = await stack(f"--wsgi-file={write('app.py', PICKLE_CONSUMER)}", "--mules", "1")
    await run.until(lambda: run.master.mules[1].pid, what="mule 1")
    run.master.send_message(b"plain text")  # uWSGI issue #624
    await run.line("^_pickle.UnpicklingError: pickle data was truncated$", mule_id=1)
    run.master.send_message(mulefunc_call("after"))
    await run.line("^mulefunc ran", mule_id=1)
    err = stream(run, 1, "err")
    assert err[0] == "Traceback (most recent call last):"
    assert any(line.endswith("in mule_msg_dispatcher") and "uwsgidecorators.py" in line for line in err)
    assert err[-1] == "_pickle.UnpicklingError: pickle data was truncated"
    assert not run.matching(r"received a \d+ bytes message")  # the hook took it, not the default log
    assert len(run.of(events.MuleSpawned)) == 1 and not run.matching("^OOOPS")  # the mule survived


FAILING_POSTFORK = (
    PREAMBLE
    + """
from uwsgidecorators import mulefunc, postfork
@postfork
def bad():
    raise RuntimeError(f"boom {where()}")
@postfork
def after():
    print("postfork after the failing one", where(), flush=True)
@mulefunc(2)
def ping():
    print("ping", where(), flush=True)
"""
)


async def test_a_failing_postfork_hook_is_printed_and_the_mule_goes_on(stack, write):
    # measured on uWSGI 2.0.30: both mules print "RuntimeError: boom in mule N"; the programmed
    # mule then runs its program, the signal-mode mule runs ping(); no OOOPS; `after` never runs
    program = write("program.py", "import time, uwsgi\nprint('program runs', flush=True)\ntime.sleep(60)\n")
    run = await stack(f"--wsgi-file={write('app.py', FAILING_POSTFORK)}", f"--mule={program}", "--mules", "1")
    await run.line("^RuntimeError: boom in mule 2$", mule_id=2)
    run.master.send_message(mulefunc_call("ping"), 2)
    await run.line("^ping in mule 2$", mule_id=2, timeout=3)
    await run.line("^program runs$", mule_id=1, timeout=3)
    await run.line("^RuntimeError: boom in mule 1$", mule_id=1)  # stderr may trail stdout
    assert stream(run, 1, "err")[-1] == "RuntimeError: boom in mule 1"
    assert not run.matching("^OOOPS") and not run.matching("^postfork after")


FARM_WITHOUT_NAME = (
    PREAMBLE
    + """
from uwsgidecorators import farm, postfork
show("in_farm(None)", lambda: uwsgi.in_farm(None))
@farm()
def any_farm(message):
    print("farm got", message, where(), flush=True)
@postfork
def after():
    print("postfork after @farm()", where(), flush=True)
"""
)


async def test_farm_without_a_name_fails_in_every_mule(stack, write):
    # measured on uWSGI 2.0.30: in_farm(None) -> TypeError at import; in each mule the chain stops
    # with "TypeError: in_farm() argument 1 must be str, not None" and later hooks do not run
    run = await stack(f"--wsgi-file={write('app.py', FARM_WITHOUT_NAME)}", "--mules", "2", "--farm", "f:1")
    await run.line("^in_farm", mule_id=0)
    assert stream(run, 0, "out") == [
        "in_farm(None) -> EXC TypeError: in_farm() argument 1 must be str, not None"
    ]
    for mule_id in (1, 2):
        await run.line(
            "^TypeError: in_farm\\(\\) argument 1 must be str, not None$", mule_id=mule_id, timeout=3
        )
    assert not run.matching("^postfork after")


DECORATED_TYPES = (
    PREAMBLE
    + """
from uwsgidecorators import harakiri, lock, thread
@thread
def in_thread():
    pass
@lock
def under_lock():
    pass
@harakiri(5)
def bounded():
    pass
print("types", type(in_thread).__name__, type(under_lock).__name__, type(bounded).__name__, flush=True)
"""
)


async def test_decorated_objects_have_uwsgis_types(stack, write):
    # measured on uWSGI 2.0.30: "thread type -> 'thread'", "lock type -> 'lock'", "harakiri type -> 'method'"
    run = await stack(f"--wsgi-file={write('app.py', DECORATED_TYPES)}", "--mules", "1")
    await run.line("^types", mule_id=0)
    assert stream(run, 0, "out") == ["types thread lock method"]
