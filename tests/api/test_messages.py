"""mule_msg / mule_get_msg in real stacks, against uWSGI 2.0.30's measured behaviour (§2)."""

from __future__ import annotations

import asyncio

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
    assert await run.line("^sent", mule_id=2) == ["sent True"]


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
        import sys
        x: int = 1
        print("spec", __spec__.name, __spec__.origin, type(__loader__).__name__, __annotations__, flush=True)
        print("name", __name__, __file__, sys.argv, sys.modules["__main__"].__dict__ is globals(), flush=True)
        import time; time.sleep(60)
        """,
    )
    run = await stack("--mule", f"--mule={probe}")
    await run.line("^name", mule_id=2)
    assert "ids 2 0 False" in run.texts(2)  # the mule's parent is the stack root, not the master
    # As pyuwsgi 2.0.30 prints it: module __main__, __file__ as given, uWSGI's argv untouched,
    # a source spec and loader, and annotations evaluated (no __future__ leaks from muletui).
    assert f"spec __main__ {probe} SourceFileLoader {{'x': <class 'int'>}}" in run.texts(2)
    assert f"name __main__ {probe} ['uwsgi'] True" in run.texts(2)
    probe_master = write("m.py", "import os, uwsgi\nprint('master', uwsgi.masterpid() == os.getppid())\n")
    run2 = await stack(f"--wsgi-file={probe_master}", "--mule")
    await run2.line("^master")
    assert "master True" in run2.texts(0)


async def test_truncation_and_buffer_size_zero(stack, write):
    reader = write(
        "reader.py",
        """
        import uwsgi
        print("ready", flush=True)
        print("zero", repr(uwsgi.mule_get_msg(buffer_size=0)), flush=True)
        print("ten", repr(uwsgi.mule_get_msg(buffer_size=10)), flush=True)
        print("next", repr(uwsgi.mule_get_msg()), flush=True)
        import time; time.sleep(60)
        """,
    )
    app = write("app.py", "import uwsgi\ndef hook(m):\n    print('hook got', len(m), flush=True)\nuwsgi.mule_msg_hook = hook\n")
    run = await stack(f"--wsgi-file={app}", f"--mule={reader}", "--mule")
    await run.line("^ready")
    run.master.send_message(b"B" * 100, 1)
    run.master.send_message(b"after", 1)
    await run.line("^next", mule_id=1)
    assert run.texts(1)[1:] == ["zero b''", "ten b'BBBBBBBBBB'", "next b'after'"]
    run.master.send_message(b"x" * 100_000, 2)  # signal-mode mules read into a 64 KiB buffer
    assert await run.line("^hook got", mule_id=2) == ["hook got 65536"]


async def test_message_size_limits_follow_the_socket_buffer(stack, write):
    probe = write(
        "big.py",
        """
        import uwsgi
        for size in (8160, 8161, 20000):
            print(size, uwsgi.mule_msg(b"x" * size, 1), flush=True)
        import time; time.sleep(60)
        """,
    )
    run = await stack("--mule", f"--mule={probe}", "--mule-msg-size=4096")
    await run.line("^20000", mule_id=2)
    assert run.matching(r"^\d+ ", 2) == ["8160 True", "8161 False", "20000 False"]
    # uWSGI's lines go to stderr, a pipe of its own: they may arrive after stdout's last line
    too_long = r"^mule_send_msg\(\): Message too long \[core/mule.c line 28\]$"
    await run.line(too_long, mule_id=2, count=2)
    assert len(run.matching(too_long, 2)) == 2


async def test_default_limits_and_full_queue(stack, write):
    flood = write(
        "flood.py",
        """
        import uwsgi
        print("biggest", uwsgi.mule_msg(b"x" * 212960, 1), uwsgi.mule_msg(b"x" * 212961, 1), flush=True)
        accepted = 0
        while uwsgi.mule_msg(b"hello", 2):
            accepted += 1
        print("accepted", accepted, flush=True)
        import time; time.sleep(60)
        """,
    )
    sleeper = write("sleeper.py", "import time\ntime.sleep(60)\n")
    run = await stack("--mule", f"--mule={sleeper}", f"--mule={flood}")
    await run.line("^accepted", mule_id=3)
    assert "biggest True False" in run.texts(3)
    accepted = int(run.matching("^accepted", 3)[0].split()[1])
    assert 200 <= accepted <= 400  # 278 on uWSGI's test bed: the kernel's accounting, not ours
    assert run.matching(
        r"^\*\*\* MULE MSG QUEUE IS FULL: buffer size 212992 bytes \(you can tune it with --mule-msg-size\) \*\*\*$", 3
    )
    left = await run.master.stop()
    assert left["mule 2"][0] == accepted


async def test_no_loss_and_no_reordering_with_retries_on_a_full_queue(stack, write):
    sender = write(
        "sender.py",
        """
        import time, uwsgi
        full = 0
        for i in range(3000):
            while not uwsgi.mule_msg(str(i), 1):
                full += 1
                time.sleep(0.0005)
        print("done, full", full > 0, flush=True)
        time.sleep(60)
        """,
    )
    reader = write(
        "slow.py",
        """
        import time, uwsgi
        expected = 0
        while expected < 3000:
            if expected % 500 == 0:
                time.sleep(0.2)
            got = int(uwsgi.mule_get_msg())
            assert got == expected, (got, expected)
            expected += 1
        print("all in order", flush=True)
        time.sleep(60)
        """,
    )
    run = await stack(f"--mule={reader}", f"--mule={sender}")
    await run.line("^all in order", mule_id=1, timeout=30)
    assert await run.line("^done", mule_id=2) == ["done, full True"]


async def test_timeouts_return_empty_bytes(stack, write):
    probe = write(
        "timeouts.py",
        """
        import time, uwsgi
        for t in (0, 1):
            start = time.monotonic()
            got = uwsgi.mule_get_msg(timeout=t)
            print(f"timeout={t} -> {got!r} after {time.monotonic() - start:.1f}s", flush=True)
        time.sleep(60)
        """,
    )
    run = await stack(f"--mule={probe}")
    await run.line("^timeout=1")
    assert run.matching("^timeout=") == ["timeout=0 -> b'' after 0.0s", "timeout=1 -> b'' after 1.0s"]


async def test_idless_race_delivers_each_message_exactly_once(stack, write):
    app = write(
        "app.py",
        """
        import uwsgi
        def hook(message):
            print("hook", message.decode(), flush=True)
        uwsgi.mule_msg_hook = hook
        """,
    )
    programmed = write(
        "prog.py",
        """
        import uwsgi
        while True:
            print("prog", uwsgi.mule_get_msg().decode(), flush=True)
        """,
    )
    run = await stack(f"--wsgi-file={app}", f"--mule={programmed}", "--mule", "--mule")
    await run.until(lambda: len(run.pids) >= 4, what="3 mules and the root")
    for i in range(300):
        while run.master.send_message(f"m{i}".encode()) == "queue full":
            await asyncio.sleep(0.001)
    await run.line(r"^(prog|hook) m", count=300)
    got = [text.split()[1] for text in run.matching(r"^(prog|hook) m")]
    assert sorted(got) == sorted(f"m{i}" for i in range(300))


async def test_signal_mode_mule_without_hook_logs_and_drops(stack):
    run = await stack("--mule")
    await run.until(lambda: run.master.mules[1].pid, what="mule 1")
    run.master.send_message(b"noid-0")
    await run.line(r"^\*\*\* mule 1 received a 6 bytes message \*\*\*$", mule_id=1)


FARMER = """
import uwsgi
print("in_farm", uwsgi.in_farm(), uwsgi.in_farm("busy"), uwsgi.in_farm("idle"), flush=True)
while True:
    print("farm got", uwsgi.farm_get_msg(), flush=True)
"""


async def test_farms(stack, write):
    idle = write(
        "idle.py",
        """
        import uwsgi
        print("ready", flush=True)
        print("farms=False", repr(uwsgi.mule_get_msg(farms=False, timeout=1)), flush=True)
        print("default", repr(uwsgi.mule_get_msg(timeout=5)), flush=True)
        import time; time.sleep(60)
        """,
    )
    sender = write(
        "sender.py",
        """
        import time, uwsgi
        time.sleep(0.3)
        print("farm_msg", uwsgi.farm_msg("busy", "str payload"), flush=True)
        print("mule_msg farm", uwsgi.mule_msg(b"via-mule_msg", b"busy"), flush=True)
        time.sleep(60)
        """,
    )
    run = await stack(
        f"--mule={write('farmer.py', FARMER)}", f"--mule={idle}", f"--mule={sender}",
        "--farm", "busy:1", "--farm", "idle:2",
    )
    await run.line("^ready", mule_id=2)
    run.master.send_message(b"to-idle", "idle")
    await run.line("^default", mule_id=2)
    assert run.matching("^(farms=False|default)", 2) == ["farms=False b''", "default b'to-idle'"]
    await run.line("^farm got", mule_id=1, count=2)
    assert run.matching("^farm got", 1) == ["farm got b'str payload'", "farm got b'via-mule_msg'"]
    assert "in_farm True True None" in run.texts(1)
    await run.line("^mule_msg farm", mule_id=3)
    assert "farm_msg None" in run.texts(3) and "mule_msg farm True" in run.texts(3)


async def test_queue_outlives_its_mule(stack, write):
    once = write("once.py", "import uwsgi\nprint('got', uwsgi.mule_get_msg(), flush=True)\n")
    run = await stack(f"--mule={once}")
    await run.until(lambda: run.master.mules[1].pid, what="mule 1")
    for i in range(3):
        run.master.send_message(f"msg{i}".encode(), 1)
    await run.line("^got", count=3, timeout=15)
    assert run.matching("^got") == ["got b'msg0'", "got b'msg1'", "got b'msg2'"]
    spawned = run.of(events.MuleSpawned)
    assert len({e.pid for e in spawned}) >= 3 and {e.mule_id for e in spawned} == {1}


async def test_detail_events_report_both_ends(stack, write):
    run = await stack(f"--mule={write('echo.py', ECHO)}", detail_events=True)
    await run.line("^ready")
    run.master.send_message(b"hello", 1)
    await run.until(lambda: run.of(events.MessageReceived), what="received event")
    received = run.of(events.MessageReceived)[0]
    assert (received.mule_id, received.queue, received.size, received.preview) == (1, "own", 5, "hello")
    sent = run.of(events.MessageSent)[0]
    assert (sent.sender, sent.target, sent.size) == (-1, 1, 5)


@pytest.mark.parametrize("target,fate", [(7, "bad mule id"), ("nofarm", "unknown farm")])
async def test_master_side_send_refuses_bad_targets(stack, target, fate):
    run = await stack("--mule")
    assert run.master.send_message(b"x", target) == fate
    assert run.of(events.MessageDropped)[0].reason == fate


async def test_full_farm_queue_logs_uwsgis_write_error(stack, write):
    # measured with real uWSGI 2.0.30: 400 farm_msg to a farm nobody reads -> 122 of these lines
    flood = write(
        "flood.py",
        """
        import uwsgi
        print("farm_msg", {uwsgi.farm_msg("f", b"hello") for _ in range(400)}, flush=True)
        import time; time.sleep(60)
        """,
    )
    sleeper = write("sleeper.py", "import time\ntime.sleep(60)\n")
    run = await stack(f"--mule={sleeper}", f"--mule={flood}", "--farm", "f:1")
    await run.line("^farm_msg", mule_id=2)
    assert run.matching("^farm_msg", 2) == ["farm_msg {None}"]
    left = await run.master.stop()  # the mule's last lines (stderr is another pipe) are all in after it
    full = run.matching(r"^write\(\): Resource temporarily unavailable \[plugins/python/uwsgi_pymodule.c line 1235\]$", 2)
    assert len(full) + left["farm f"][0] == 400


async def test_stats_block_counts_messages_and_shows_activity(stack, write):
    sender = write(
        "sender.py",
        """
        import uwsgi
        for i in range(5):
            uwsgi.mule_msg(b"x", 1)
        print("sent", flush=True)
        import time; time.sleep(60)
        """,
    )
    run = await stack(f"--mule={write('echo.py', ECHO)}", f"--mule={sender}")
    await run.line("^got", mule_id=1, count=5)
    await run.until(
        lambda: run.master.snapshot().mules[0].activity.name == "WAITING_MESSAGE", what="mule 1 waiting"
    )
    # the sender counts a message after its send returns: the reader may print it before that
    await run.until(lambda: run.master.snapshot().mules[1].msgs_out == 5, what="the sender's count")
    one, two = run.master.snapshot().mules
    assert (one.msgs_in, two.msgs_out, one.queue_bytes) == (5, 5, 0)
    assert one.pid and one.rss_bytes > 1_000_000 and one.mode == "echo.py" and two.mode == "sender.py"


async def test_own_queue_first_also_when_polling_first(stack, write):
    """After a call found the queue empty, the next calls poll before they read (a fast path):
    the own queue still comes before the shared one, and every message is counted."""
    taker = write(
        "taker.py",
        """
        import os, time, uwsgi
        open("ready", "w").close()
        print("first", uwsgi.mule_get_msg(), flush=True)  # finds the queue empty and waits
        while not os.path.exists("queued"):
            time.sleep(0.01)
        print("then", [uwsgi.mule_get_msg() for _ in range(6)], flush=True)
        time.sleep(60)
        """,
    )
    feeder = write(
        "feeder.py",
        """
        import os, time, uwsgi
        while not os.path.exists("ready"):
            time.sleep(0.01)
        time.sleep(0.3)  # the taker is waiting in mule_get_msg() by now
        uwsgi.mule_msg(b"wake", 1)
        for i in range(3):
            uwsgi.mule_msg(f"shared{i}")
            uwsgi.mule_msg(f"own{i}", 1)
        open("queued", "w").close()
        time.sleep(60)
        """,
    )
    run = await stack(f"--mule={taker}", f"--mule={feeder}")
    await run.line("^then", mule_id=1)
    assert run.texts(1) == [
        "first b'wake'",
        "then [b'own0', b'own1', b'own2', b'shared0', b'shared1', b'shared2']",
    ]
    await run.until(lambda: run.master.snapshot().mules[0].msgs_in == 7, what="7 messages counted")


async def test_opt_from_an_ini_file_matches_uwsgi(stack, write):
    # real uWSGI 2.0.30 on the same file: {'ini': b'c.ini', 'master': b'true', 'mule': b'', 'locks': b'2'}
    write("app.py", "import uwsgi\nprint('OPT', sorted(uwsgi.opt.items()), flush=True)\n")
    conf = write("c.ini", "[uwsgi]\nmaster = true\nwsgi-file = app.py\nmule = true\nmule =\nlocks = 2\n")
    run = await stack("--ini", conf)
    (line,) = await run.line("^OPT", mule_id=0)
    assert line == (
        f"OPT [('ini', {conf.encode()!r}), ('locks', b'2'), ('master', b'true'), ('mule', b''), "
        "('wsgi-file', b'app.py')]"
    )
