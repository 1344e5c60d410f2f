"""mule_msg / mule_get_msg in real stacks, against uWSGI 2.0.30's measured behaviour (§2)."""

from __future__ import annotations

import pytest

from muletui.engine import events

ECHO = """
import uwsgi
print("ready", uwsgi.mule_id(), flush=True)
while True:
    print("got", repr(uwsgi.mule_get_msg()))
"""


async def test_master_side_message_reaches_a_programmed_mule(stack, write):
    run = await stack(f"--mule={write('echo.py', ECHO)}", "--mule")
    await run.line("^ready 1")
    assert run.master.send_message(b"ciuchino", 1) == "queued"
    await run.line(r"^got b'ciuchino'$", mule_id=1)


async def test_message_queued_at_app_import_is_read_by_the_mule(stack, write):
    app = write("app.py", "import uwsgi\nprint('queued', uwsgi.mule_msg('from-import', 1))\n")
    run = await stack(f"--wsgi-file={app}", f"--mule={write('echo.py', ECHO)}")
    await run.line(r"^got b'from-import'$", mule_id=1)
    assert "queued True" in run.texts(0)


async def test_mule_to_mule_message_bypasses_nobody_and_keeps_order(stack, write):
    sender = write(
        "sender.py",
        """
        import time, uwsgi
        time.sleep(0.2)
        results = [uwsgi.mule_msg(f"n{i}", 1) for i in range(50)]
        print("sent", all(results), flush=True)
        while True:
            time.sleep(60)
        """,
    )
    run = await stack(f"--mule={write('echo.py', ECHO)}", f"--mule={sender}")
    await run.line(r"^got b'n49'$", mule_id=1)
    got = [t for t in run.texts(1) if t.startswith("got b'n")]
    assert got == [f"got b'n{i}'" for i in range(50)]
    assert "sent True" in run.texts(2)


API_PROBE = """
import uwsgi
def show(label, call):
    try:
        print(label, "->", repr(call()), flush=True)
    except Exception as e:
        print(label, "-> EXC", type(e).__name__ + ":", e, flush=True)
show("bad id 3", lambda: uwsgi.mule_msg(b"x", 3))
show("bad id -1", lambda: uwsgi.mule_msg(b"x", -1))
show("bad id 100000", lambda: uwsgi.mule_msg(b"x", 100000))
show("str farm", lambda: uwsgi.mule_msg(b"x", "f1"))
show("unknown farm", lambda: uwsgi.mule_msg(b"x", b"nofarm"))
show("float id", lambda: uwsgi.mule_msg(b"x", 1.5))
show("None id", lambda: uwsgi.mule_msg(b"x", None))
show("bytearray", lambda: uwsgi.mule_msg(bytearray(b"x"), 1))
show("int msg", lambda: uwsgi.mule_msg(5, 1))
show("farm_msg bytes name", lambda: uwsgi.farm_msg(b"f1", b"x"))
show("farm_msg unknown", lambda: uwsgi.farm_msg("nope", b"x"))
show("get_msg kwarg", lambda: uwsgi.mule_get_msg(foo=1))
show("get_msg float timeout", lambda: uwsgi.mule_get_msg(timeout=0.5))
show("get_msg outside", lambda: uwsgi.mule_get_msg())
show("farm_get_msg outside", lambda: uwsgi.farm_get_msg())
show("in_farm outside", lambda: uwsgi.in_farm())
show("mule_id", uwsgi.mule_id)
show("worker_id", uwsgi.worker_id)
show("version", lambda: uwsgi.version)
show("hostname type", lambda: type(uwsgi.hostname).__name__)
show("opt mules", lambda: uwsgi.opt["mules"])
show("opt master", lambda: uwsgi.opt["master"])
show("opt farm", lambda: uwsgi.opt["farm"])
show("numproc", lambda: uwsgi.numproc)
show("started_on type", lambda: type(uwsgi.started_on).__name__)
show("log", lambda: uwsgi.log("a log line"))
show("spooler", uwsgi.i_am_the_spooler)
"""


async def test_api_edge_cases_match_uwsgi(stack, write):
    app = write("app.py", API_PROBE)
    run = await stack(f"--wsgi-file={app}", "--master", "--mules", "2", "--farm", "f1:2", "--processes", "2")
    await run.line("^spooler ->")
    out = "\n".join(run.texts(0))
    expected = [
        "bad id 3 -> False",
        "bad id -1 -> False",
        "bad id 100000 -> False",
        "str farm -> EXC ValueError: invalid mule",
        "unknown farm -> EXC ValueError: unknown farm",
        "float id -> EXC ValueError: invalid mule",
        "None id -> EXC ValueError: invalid mule",
        "bytearray -> EXC TypeError: mule_msg() argument 1 must be read-only bytes-like object, not bytearray",
        "int msg -> EXC TypeError: a bytes-like object is required, not 'int'",
        "farm_msg bytes name -> EXC TypeError: farm_msg() argument 1 must be str, not bytes",
        "farm_msg unknown -> None",
        "get_msg kwarg -> EXC TypeError: 'foo' is an invalid keyword argument for mule_get_msg()",
        "get_msg float timeout -> EXC TypeError: 'float' object cannot be interpreted as an integer",
        "get_msg outside -> EXC ValueError: you can receive mule messages only in a mule !!!",
        "farm_get_msg outside -> EXC ValueError: you can receive farm messages only in a mule !!!",
        "in_farm outside -> None",
        "mule_id -> 0",
        "worker_id -> 0",
        "version -> b'2.0.30'",
        "hostname type -> 'bytes'",
        "opt mules -> b'2'",
        "opt master -> True",
        "opt farm -> b'f1:2'",
        "numproc -> 2",
        "started_on type -> 'int'",
        "log -> True",
        "spooler -> None",
    ]
    for line in expected:
        assert line in out
    assert out.count("mule_send_msg(): Bad file descriptor [core/mule.c line 28]") == 3
    assert "a log line" in out
    warnings = [w.text for w in run.of(events.StackWarning)]
    assert any("mule 100000" in w and "no range check" in w for w in warnings)


async def test_identity_inside_a_mule(stack, write):
    probe = write(
        "probe.py",
        """
        import os, uwsgi
        print("ids", uwsgi.mule_id(), uwsgi.worker_id(), uwsgi.masterpid() == os.getppid(), flush=True)
        print("name", __name__, flush=True)
        import time; time.sleep(60)
        """,
    )
    run = await stack("--mule", f"--mule={probe}")
    await run.line("^name", mule_id=2)
    assert "ids 2 0 False" in run.texts(2)  # the mule's parent is the stack root, not the master
    assert "name __main__" in run.texts(2)
    probe_master = write("m.py", "import os, uwsgi\nprint('master', uwsgi.masterpid() == os.getppid())\n")
    run2 = await stack(f"--wsgi-file={probe_master}", "--mule")
    await run2.line("^master")
    assert "master True" in run2.texts(0)
