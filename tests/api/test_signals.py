"""uWSGI signals in real stacks: routing, targets, delivery to mules, errors (reference §3)."""

from __future__ import annotations

import os

from muletui.engine import events

SEED_APP = """
import uwsgi
from uwsgidecorators import timer, signal, filemon

@timer(1, target='mule')
def hello(signum):
    print("TIMER signum=%d mule=%d" % (signum, uwsgi.mule_id()), flush=True)

@signal(17, target='mule2')
def i_am_mule2(signum):
    print("SIG17 mule=%d" % uwsgi.mule_id(), flush=True)

@filemon(WATCHED, target='mules')
def tmp_modified(signum):
    print("FILEMON mule=%d" % uwsgi.mule_id(), flush=True)
"""

SOMARO_DEFAULT = """
import uwsgi
print("waiting with the defaults", flush=True)
while True:
    print("got", repr(uwsgi.mule_get_msg()), flush=True)
"""


async def test_seed_example(stack, write, tmp_path):
    watched = tmp_path / "watched"
    watched.mkdir()
    app = write("app.py", SEED_APP.replace("WATCHED", repr(str(watched))))
    run = await stack(f"--wsgi-file={app}", f"--mule={write('somaro.py', SOMARO_DEFAULT)}", "--mule", "--mule", "--mule")
    await run.line("^waiting")
    await run.until(lambda: all(m.pid for m in run.master.mules.values()), what="4 mules")
    run.master.raise_signal(17)
    await run.line("^SIG17")
    assert run.matching("^SIG17") == ["SIG17 mule=2"] and run.matching("^SIG17", 2)
    (watched / "new-file").write_text("x")
    await run.line("^FILEMON", count=3)
    assert sorted(mid for mid, _s, t in run.lines if t.startswith("FILEMON")) == [2, 3, 4]
    await run.line("^TIMER", count=2, timeout=5)
    assert not run.matching("^(TIMER|SIG17|FILEMON)", 1)  # the programmed mule never listens
    assert run.texts(1) == ["waiting with the defaults"]
    registered = run.matching(r"^\[uwsgi-signal\] signum \d+ registered", 0)
    assert registered == [
        "[uwsgi-signal] signum 0 registered (wid: 0 modifier1: 0 target: mule)",
        "[uwsgi-signal] signum 17 registered (wid: 0 modifier1: 0 target: mule2)",
        "[uwsgi-signal] signum 1 registered (wid: 0 modifier1: 0 target: mules)",
    ]
    # Each entry names the line that registered it: the decorator's, not uwsgidecorators' own.
    sites = {signum: entry.registered_by for signum, entry in run.master.signals.table.items()}
    assert sites == {0: "app.py:5", 17: "app.py:9", 1: "app.py:13"}
    assert [e.site for e in run.of(events.SignalRegistered)] == ["app.py:5", "app.py:9", "app.py:13"]


async def test_signals_pile_up_for_default_get_msg_and_come_one_per_call(stack, write):
    app = write(
        "app.py",
        "import uwsgi\nuwsgi.register_signal(30, 'mule1', lambda n: print('handler', n, flush=True))\n",
    )
    mule = write(
        "late.py",
        """
        import time, uwsgi
        print("default", repr(uwsgi.mule_get_msg(timeout=1)), flush=True)
        results = [uwsgi.mule_get_msg(signals=False, timeout=0) for _ in range(6)]
        print("late", results, flush=True)
        time.sleep(60)
        """,
    )
    run = await stack(f"--wsgi-file={app}", f"--mule={mule}")
    await run.until(lambda: run.master.mules[1].pid, what="mule 1")
    for _ in range(5):
        run.master.raise_signal(30)
    await run.line("^late")
    assert run.matching("^default") == ["default b''"]
    assert run.matching("^late") == ["late [None, None, None, None, None, b'']"]
    assert len(run.matching("^handler 30")) == 5


async def test_signal_wait_and_signal_received(stack, write):
    app = write(
        "app.py",
        """
        import uwsgi
        uwsgi.register_signal(30, 'mule1', lambda n: print('h30', flush=True))
        uwsgi.register_signal(31, 'mule1', lambda n: print('h31', flush=True))
        """,
    )
    mule = write(
        "waiter.py",
        """
        import uwsgi
        print("before", uwsgi.signal_received(), flush=True)
        print("wait", repr(uwsgi.signal_wait()), uwsgi.signal_received(), flush=True)
        print("wait31", repr(uwsgi.signal_wait(31)), uwsgi.signal_received(), flush=True)
        import time; time.sleep(60)
        """,
    )
    run = await stack(f"--wsgi-file={app}", f"--mule={mule}")
    await run.line("^before")
    run.master.raise_signal(30)
    await run.line("^wait ")
    run.master.raise_signal(30)
    run.master.raise_signal(31)
    await run.line("^wait31")
    assert run.texts(1) == ["before 0", "h30", "wait b'' 30", "h30", "h31", "wait31 b'' 31"]


TARGETS_APP = """
import uwsgi
def show(n):
    print("handled", n, "on mule", uwsgi.mule_id(), flush=True)
for num, target in [(40, 'mule5'), (41, 'bogus'), (42, 'spooler'), (43, 'farm_nope'), (44, 'farm1'),
                    (45, 'mulefoo'), (46, 'workers'), (47, 'worker3'), (48, 'subscribed'), (49, 'mules'),
                    (50, 'farm_f'), (51, 'farm2')]:
    uwsgi.register_signal(num, target, show)
"""


async def test_every_target_form_and_its_error_line(stack, write):
    app = write("app.py", TARGETS_APP)
    run = await stack(f"--wsgi-file={app}", "--mule", "--mule", "--farm", "f:2", "--farm", "g:1")
    await run.until(lambda: all(m.pid for m in run.master.mules.values()), what="mules")
    for signum in (40, 41, 42, 43, 45, 46, 47, 48, 49, 50, 51, 99):
        run.master.raise_signal(signum)
    await run.line("^handled (45|50|51) ", count=3)
    log = run.texts(0)
    for line in [
        "invalid signal target: mule5",
        "^^^ UNSUPPORTED SIGNAL TARGET: bogus ^^^",
        "uwsgi_signal_send(): Bad file descriptor [core/signal.c line 306]",
        "could not deliver signal 42 to the spooler",
        "unknown farm: nope",
        "could not deliver signal 46 to workers pool (muletui runs no workers)",
        "could not deliver signal 47 to worker 3 (muletui runs no workers)",
        "could not deliver signal 99 to workers pool (muletui runs no workers)",
    ]:
        assert line in log
    await run.line("^handled 49", count=2)
    handled = sorted(t for t in run.texts() if t.startswith("handled"))
    assert handled == [
        "handled 45 on mule 1" if "handled 45 on mule 1" in handled else "handled 45 on mule 2",
        "handled 49 on mule 1",
        "handled 49 on mule 2",
        "handled 50 on mule 2",
        "handled 51 on mule 1",
    ]
    dropped = {e.signum: e.reason for e in run.of(events.SignalDropped)}
    assert dropped[99] == "muletui runs no workers" and dropped[41] == "unsupported target"


async def test_farm_without_farms_and_signal_numbers_wrap(stack, write):
    app = write(
        "app.py",
        """
        import uwsgi
        uwsgi.register_signal(44, 'farm1', print)
        uwsgi.register_signal(-1, 'mule1', lambda n: print('got', n, flush=True))
        def show(label, call):
            try:
                print(label, '->', repr(call()), flush=True)
            except Exception as e:
                print(label, '-> EXC', type(e).__name__ + ':', e, flush=True)
        show('re-register', lambda: uwsgi.register_signal(255, 'mule1', print))
        show('long target', lambda: uwsgi.register_signal(60, 'x' * 64, print))
        show('float', lambda: uwsgi.signal(1.5))
        show('registered 44+256', lambda: uwsgi.signal_registered(300))
        show('registered 61', lambda: uwsgi.signal_registered(61))
        """,
    )
    probe = write(
        "probe.py",
        """
        import uwsgi
        try:
            uwsgi.register_signal(70, 'mule1', print)
        except ValueError as e:
            print('in mule ->', e, flush=True)
        uwsgi.signal(511)
        while True:
            uwsgi.mule_get_msg(signals=False)
        """,
    )
    run = await stack(f"--wsgi-file={app}", f"--mule={probe}")
    run.master.raise_signal(44)
    await run.line("^got 255", mule_id=1)
    await run.line("^in mule", mule_id=1)
    root = run.texts(0)
    assert "invalid signal target: farm1" in root
    assert "[uwsgi-signal] signum 255 registered (wid: 0 modifier1: 0 target: mule1)" in root
    assert "[uwsgi-signal] you cannot re-register a signal as the master !!!" in root
    assert "re-register -> EXC ValueError: unable to register signal" in root
    assert "long target -> EXC ValueError: unable to register signal" in root
    assert "float -> EXC TypeError: 'float' object cannot be interpreted as an integer" in root
    assert "registered 44+256 -> True" in root and "registered 61 -> None" in root
    assert "only the master and the workers can register signal handlers" in run.texts(1)
    assert run.matching("^in mule") == ["in mule -> unable to register signal"]


async def test_handler_exception_is_logged_and_the_mule_survives(stack, write):
    app = write(
        "app.py",
        """
        import uwsgi
        def bad(n):
            raise ValueError('handler exploded')
        uwsgi.register_signal(46, 'mule1', bad)
        uwsgi.register_signal(47, 'mule1', lambda n: print('still alive', flush=True))
        """,
    )
    run = await stack(f"--wsgi-file={app}", "--mule", detail_events=True)
    await run.until(lambda: run.master.mules[1].pid, what="mule 1")
    run.master.raise_signal(46)
    run.master.raise_signal(47)
    await run.line("^still alive")
    await run.until(lambda: len(run.of(events.SignalHandled)) >= 2, what="two handled reports")
    assert "ValueError: handler exploded" in run.texts(1)
    assert any(text.endswith(" - error managing signal 46 on mule 1") for text in run.texts(1))
    handled = [(e.signum, e.ok) for e in run.of(events.SignalHandled)]
    assert handled[:2] == [(46, False), (47, True)]
    assert (run.master.signals.table[46].failed, run.master.signals.table[47].handled) == (1, 1)
    assert len(run.of(events.MuleSpawned)) == 1


async def test_full_signal_socket_drops_with_uwsgis_lines(stack, write):
    app = write("app.py", "import uwsgi\nuwsgi.register_signal(70, 'mule1', print)\n")
    deaf = write("deaf.py", "import time\ntime.sleep(60)\n")
    run = await stack(f"--wsgi-file={app}", f"--mule={deaf}")
    await run.until(lambda: run.master.mules[1].pid, what="mule 1")
    for _ in range(400):
        run.master.raise_signal(70)
    dropped = run.of(events.SignalDropped)
    routed = run.of(events.SignalRouted)
    assert 200 <= len(routed) <= 400 and len(routed) + len(dropped) == 400  # 278 on uWSGI's test bed
    assert run.matching(r"^\*\*\* SIGNAL QUEUE IS FULL: buffer size \d+ bytes \(you can tune it with --signal-bufsize\) \*\*\*$")
    assert "could not deliver signal 70 to mule 1" in run.texts(0)
    entry = run.master.signals.table[70]
    assert (entry.raised, entry.delivered, entry.dropped) == (400, len(routed), len(dropped))


async def test_signals_raised_inside_mules_reach_the_master(stack, write):
    app = write("app.py", "import uwsgi\nuwsgi.register_signal(20, 'mule2', lambda n: print('mule 2 got', n, flush=True))\n")
    raiser = write("raiser.py", "import time, uwsgi\nuwsgi.signal(20)\ntime.sleep(60)\n")
    run = await stack(f"--wsgi-file={app}", f"--mule={raiser}", "--mule", detail_events=True)
    await run.line("^mule 2 got 20", mule_id=2)
    await run.until(lambda: run.of(events.SignalRouted), what="the routed report")
    raised = run.of(events.SignalRaised)[0]
    assert (raised.signum, raised.source) == (20, "mule 1")  # mule 1 routed it itself
    assert run.of(events.SignalRouted)[0].destinations == ("mule 2",)
    assert (run.master.signals.table[20].raised, run.master.signals.table[20].delivered) == (1, 1)


async def test_mule_harakiri_kills_a_slow_handler(stack, write):
    app = write("app.py", "import time, uwsgi\nuwsgi.register_signal(20, 'mule1', lambda n: time.sleep(10))\n")
    run = await stack(f"--wsgi-file={app}", "--mule", "--mule-harakiri", "1")
    await run.until(lambda: run.master.mules[1].pid, what="mule 1")
    pid = run.master.mules[1].pid
    run.master.raise_signal(20)
    await run.line(rf"^\*\*\* HARAKIRI ON MULE 1 HANDLING SIGNAL 20 \(pid: {pid}\) \*\*\*$", timeout=5)
    await run.line(rf"^OOOPS mule 1 \(pid: {pid}\) crippled")
    assert run.of(events.MuleExited)[0].signal == "SIGKILL"


async def test_user_harakiri_in_a_programmed_mule(stack, write):
    mule = write("slow.py", "import time, uwsgi\nuwsgi.set_user_harakiri(1)\ntime.sleep(10)\n")
    run = await stack(f"--mule={mule}")
    await run.line(r"^\*\*\* HARAKIRI ON MULE 1 \(pid: \d+\) \*\*\*$", timeout=5)


async def test_touch_mules_reload(stack, write, tmp_path):
    touched = tmp_path / "reload.txt"
    touched.write_text("0")
    run = await stack("--mule", f"--touch-mules-reload={touched}", "--mule-reload-mercy=2")
    await run.until(lambda: run.master.mules[1].pid, what="mule 1")
    first = run.master.mules[1].pid
    os.utime(touched, (1, 1))
    await run.line(rf"^\*\*\* {touched} has been touched\.\.\. mules reload !!! \*\*\*$", timeout=5)
    await run.until(lambda: run.master.mules[1].pid not in (0, first), what="a new mule 1")
    assert not run.matching("^OOOPS")


async def test_signals_routed_by_a_mule_reach_exactly_their_targets(stack, write):
    app = write(
        "app.py",
        """
        import uwsgi
        def show(n):
            print("handled", n, "on mule", uwsgi.mule_id(), flush=True)
        uwsgi.register_signal(21, "mule3", show)
        uwsgi.register_signal(22, "mules", show)
        uwsgi.register_signal(23, "farm_f", show)
        uwsgi.register_signal(24, "farm1", show)
        """,
    )
    raiser = write(
        "raiser.py",
        """
        import time, uwsgi
        time.sleep(0.3)
        for _ in range(10):
            uwsgi.signal(21)
        uwsgi.signal(22)
        for _ in range(5):
            uwsgi.signal(23)
            uwsgi.signal(24)
        time.sleep(60)
        """,
    )
    run = await stack(f"--wsgi-file={app}", f"--mule={raiser}", "--mule", "--mule", "--mule", "--farm", "f:4")
    await run.line("^handled 21", count=10)
    await run.line("^handled 22", count=3)
    await run.line("^handled (23|24)", count=10)
    by_signal: dict[str, set[int]] = {}
    for mule_id, _stream, text in run.lines:
        if text.startswith("handled"):
            by_signal.setdefault(text.split()[1], set()).add(mule_id)
    assert by_signal == {"21": {3}, "22": {2, 3, 4}, "23": {4}, "24": {4}}
