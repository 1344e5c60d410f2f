"""uwsgi.lock / unlock / is_locked in real stacks, against uWSGI 2.0.30's measured behaviour (§5).

Mules coordinate through marker files in the stack's directory (the test's ``tmp_path``) or
through messages the test sends, so every ordering a test asserts is forced, not timed.
"""

from __future__ import annotations

import re
from pathlib import Path

from muletui.engine import events

RECOVERING = "[deadlock-detector] a process holding a robust mutex died. recovering..."
DOUBLE_LOCK = (
    "lock(2) taken twice by the same thread: uWSGI's lock is not recursive and "
    "this deadlocks forever, in uWSGI as here"
)


def stream(run, mule_id: int, name: str) -> list[str]:
    """One mule's lines on one stream: stdout and stderr are separate pipes, unordered between them."""
    return [text for mid, s, text in run.lines if mid == mule_id and s == name]


async def errors(run, mule_id: int, count: int = 1) -> list[str]:
    """A mule's stderr lines once ``count`` have come: they may trail a later stdout line."""
    await run.until(lambda: len(stream(run, mule_id, "err")) >= count, what=f"{count} stderr lines of mule {mule_id}")
    return stream(run, mule_id, "err")


SHOW = """
import uwsgi
def show(label, call):
    try:
        print(label, "->", repr(call()), flush=True)
    except Exception as e:
        print(label, "-> EXC", type(e).__name__ + ":", e, flush=True)
"""

NUMBERS = (
    SHOW
    + """
for n in (0, 1, 2):
    show(f"lock({n})", lambda n=n: uwsgi.lock(n))
    show(f"is_locked({n}) by its holder", lambda n=n: uwsgi.is_locked(n))
    show(f"unlock({n})", lambda n=n: uwsgi.unlock(n))
    show(f"is_locked({n}) after unlock", lambda n=n: uwsgi.is_locked(n))
show("lock()", uwsgi.lock)
show("is_locked()", uwsgi.is_locked)
show("unlock()", uwsgi.unlock)
show("unlock() when not locked", uwsgi.unlock)
show("lock(3)", lambda: uwsgi.lock(3))
show("lock(-1)", lambda: uwsgi.lock(-1))
show("unlock(3)", lambda: uwsgi.unlock(3))
show("is_locked(3)", lambda: uwsgi.is_locked(3))
show("is_locked(-1)", lambda: uwsgi.is_locked(-1))
show("lock('1')", lambda: uwsgi.lock("1"))
show("unlock('1')", lambda: uwsgi.unlock("1"))
show("is_locked('1')", lambda: uwsgi.is_locked("1"))
show("lock(1.5)", lambda: uwsgi.lock(1.5))
show("lock(None)", lambda: uwsgi.lock(None))
show("lock(True)", lambda: (uwsgi.lock(True), uwsgi.is_locked(1), uwsgi.unlock(True)))
print("end", flush=True)
import time; time.sleep(60)
"""
)


async def test_locks_0_to_n_and_argument_errors(stack, write):
    # beyond §5, every line was also measured on uWSGI 2.0.30 (pyuwsgi 2.0.30.post1, --locks 2)
    run = await stack(f"--mule={write('numbers.py', NUMBERS)}", "--locks", "2")
    await run.line("^end", mule_id=1)
    expected = []
    for n in (0, 1, 2):
        expected += [
            f"lock({n}) -> None",
            f"is_locked({n}) by its holder -> True",
            f"unlock({n}) -> None",
            f"is_locked({n}) after unlock -> False",
        ]
    expected += [
        "lock() -> None",
        "is_locked() -> True",
        "unlock() -> None",
        "unlock() when not locked -> None",
        "lock(3) -> EXC ValueError: Invalid lock number",
        "lock(-1) -> EXC ValueError: Invalid lock number",
        "unlock(3) -> EXC ValueError: Invalid lock number",
        "is_locked(3) -> EXC ValueError: Invalid lock number",
        "is_locked(-1) -> EXC ValueError: Invalid lock number",
        "lock('1') -> EXC TypeError: 'str' object cannot be interpreted as an integer",
        "unlock('1') -> EXC TypeError: 'str' object cannot be interpreted as an integer",
        "is_locked('1') -> EXC TypeError: 'str' object cannot be interpreted as an integer",
        "lock(1.5) -> EXC TypeError: 'float' object cannot be interpreted as an integer",
        "lock(None) -> EXC TypeError: 'NoneType' object cannot be interpreted as an integer",
        "lock(True) -> (None, True, None)",
    ]
    assert run.matching(" -> ", 1) == expected
    assert run.of(events.LockOperation) == []  # detail events are off by default


async def test_without_locks_option_only_lock_0_exists(stack, write):
    probe = (
        SHOW
        + 'show("lock(0)", lambda: (uwsgi.lock(0), uwsgi.unlock(0)))\nshow("lock(1)", lambda: uwsgi.lock(1))\n'
    )
    run = await stack(f"--wsgi-file={write('app.py', probe)}", "--mule")
    await run.line("^lock\\(1\\)")
    assert run.matching(" -> ", 0) == [
        "lock(0) -> (None, None)",
        "lock(1) -> EXC ValueError: Invalid lock number",
    ]


async def test_argument_errors_of_the_c_parser(stack, write):
    # measured on uWSGI 2.0.30 (pyuwsgi 2.0.30.post1, --locks 2)
    probe = (
        SHOW + 'show("lock(2**40)", lambda: uwsgi.lock(2**40))\nshow("lock(n=1)", lambda: uwsgi.lock(n=1))\n'
    )
    run = await stack(f"--wsgi-file={write('app.py', probe)}", "--mule", "--locks", "2")
    await run.line("^lock\\(n=1\\)")
    assert run.matching(" -> ", 0) == [
        "lock(2**40) -> EXC OverflowError: signed integer is greater than maximum",
        "lock(n=1) -> EXC TypeError: lock() takes no keyword arguments",
    ]


CONTENDER = """
import os, time, uwsgi
print("ready", flush=True)
while not os.path.exists("go"):
    time.sleep(0.01)
for _ in range(200):
    uwsgi.lock(1)
    with open("counter") as f:
        value = int(f.read())
    time.sleep(0.0005)  # a window for the others to interleave
    with open("counter", "w") as f:
        f.write(str(value + 1))
    uwsgi.unlock(1)
print("done", flush=True)
time.sleep(60)
"""


async def test_lock_makes_read_modify_write_exact_under_contention(stack, write, tmp_path: Path):
    (tmp_path / "counter").write_text("0")
    script = write("contender.py", CONTENDER)
    run = await stack(*[f"--mule={script}"] * 4, "--locks", "2")
    await run.line("^ready", count=4)
    (tmp_path / "go").touch()
    await run.line("^done", count=4, timeout=20)
    assert [len(run.matching("^done", mule_id)) for mule_id in range(1, 5)] == [1, 1, 1, 1]
    assert not run.matching("^OOOPS")  # unlocked, a reader can catch the file truncated and crash
    assert (tmp_path / "counter").read_text() == "800"


THREADS = """
import threading, time, uwsgi

released = threading.Event()
uwsgi.lock(2)
print("main holds lock 2", flush=True)

def other():
    uwsgi.lock(2)
    print("other thread got lock 2; main had released:", released.is_set(), flush=True)
    uwsgi.unlock(2)

th = threading.Thread(target=other)
th.start()
time.sleep(0.5)
released.set()
uwsgi.unlock(2)
th.join()

released.clear()
uwsgi.lock(2)

def foreign():
    print("foreign thread unlock(2) ->", uwsgi.unlock(2), flush=True)
    print("is_locked(2) after foreign unlock ->", uwsgi.is_locked(2), flush=True)
    uwsgi.lock(2)
    print("foreign thread got lock 2; main had released:", released.is_set(), flush=True)
    uwsgi.unlock(2)

th = threading.Thread(target=foreign)
th.start()
time.sleep(0.5)
released.set()
uwsgi.unlock(2)
th.join()

uwsgi.lock(2)
print("before second lock()", flush=True)
uwsgi.lock(2)
print("after second lock()", flush=True)
"""


async def test_ownership_is_per_thread(stack, write):
    run = await stack(f"--mule={write('threads.py', THREADS)}", "--locks", "2")
    await run.until(lambda: run.of(events.StackWarning), what="the double-lock warning")
    await run.line("^before second lock", mule_id=1)  # stdout is another pipe: it may trail
    assert stream(run, 1, "out") == [
        "main holds lock 2",
        "other thread got lock 2; main had released: True",
        "foreign thread unlock(2) -> None",
        "is_locked(2) after foreign unlock -> False",  # uWSGI's bookkeeping quirk
        "foreign thread got lock 2; main had released: True",  # ... but the lock stayed held
        "before second lock()",
    ]
    assert await errors(run, 1) == [f"[muletui] {DOUBLE_LOCK}"]
    assert [(w.mule_id, w.text) for w in run.of(events.StackWarning)] == [(1, DOUBLE_LOCK)]


FORKED = """
import os, signal, time, uwsgi
uwsgi.lock(1)
child = os.fork()
if child == 0:
    signal.signal(signal.SIGALRM, signal.SIG_DFL)  # mules ignore it; here it ends a stuck child
    signal.alarm(10)
    uwsgi.lock(1)
    print("child got lock 1; parent had released:", os.path.exists("released"), flush=True)
    uwsgi.unlock(1)
    os._exit(0)
time.sleep(0.5)  # a child sharing the parent's ownership would have taken the lock by now
open("released", "w").close()
uwsgi.unlock(1)
os.waitpid(child, 0)
print("parent reaped its child", flush=True)
time.sleep(60)
"""


async def test_a_process_forked_by_a_mule_is_another_owner(stack, write):
    run = await stack(f"--mule={write('forked.py', FORKED)}", "--locks", "1")
    await run.line("^parent reaped", mule_id=1)
    assert stream(run, 1, "out") == ["child got lock 1; parent had released: True", "parent reaped its child"]


HOLDER = """
import os, time, uwsgi
uwsgi.lock()
print("holder is_locked() ->", uwsgi.is_locked(), flush=True)
open("held", "w").close()
while not os.path.exists("waiting"):
    time.sleep(0.01)
time.sleep(0.5)  # the third party is blocked in lock() by now
print("holder is_locked() after foreign unlock ->", uwsgi.is_locked(), flush=True)
open("released", "w").close()
print("holder unlock() ->", uwsgi.unlock(), flush=True)
time.sleep(60)
"""

FOREIGN = """
import os, time, uwsgi
while not os.path.exists("held"):
    time.sleep(0.01)
print("is_locked() ->", uwsgi.is_locked(), flush=True)
print("unlock() by a non-owner process ->", uwsgi.unlock(), flush=True)
print("is_locked() after foreign unlock ->", uwsgi.is_locked(), flush=True)
open("probed", "w").close()
time.sleep(60)
"""

THIRD = """
import os, time, uwsgi
while not os.path.exists("probed"):
    time.sleep(0.01)
open("waiting", "w").close()
uwsgi.lock()
print("third party got lock 0; holder had released:", os.path.exists("released"), flush=True)
print("is_locked() ->", uwsgi.is_locked(), flush=True)
uwsgi.unlock()
time.sleep(60)
"""


async def test_foreign_unlock_is_a_silent_no_op_that_makes_is_locked_lie(stack, write):
    run = await stack(
        f"--mule={write('holder.py', HOLDER)}",
        f"--mule={write('foreign.py', FOREIGN)}",
        f"--mule={write('third.py', THIRD)}",
    )
    await run.line("^is_locked", mule_id=3)
    await run.line("^holder unlock", mule_id=1)  # printed as unlock() returns: maybe after mule 3's lines
    assert run.texts(1) == [
        "holder is_locked() -> True",
        "holder is_locked() after foreign unlock -> False",
        "holder unlock() -> None",
    ]
    assert run.texts(2) == [
        "is_locked() -> True",
        "unlock() by a non-owner process -> None",
        "is_locked() after foreign unlock -> False",
    ]
    assert run.texts(3) == ["third party got lock 0; holder had released: True", "is_locked() -> True"]


DIES_HOLDING = """
import os, time, uwsgi
if os.path.exists("died"):
    print("respawned", flush=True)
    time.sleep(60)
open("died", "w").close()
uwsgi.lock(1)
print("holding lock 1, exiting", flush=True)
os._exit(7)
"""

ON_MESSAGE = """
import time, uwsgi
uwsgi.mule_get_msg()
{body}
time.sleep(60)
"""

PROBE_DEAD = ON_MESSAGE.format(body='print("is_locked(1) ->", uwsgi.is_locked(1), flush=True)')

LOCK_AFTER_DEATH = ON_MESSAGE.format(
    body="""
t0 = time.monotonic()
print("lock(1) ->", uwsgi.lock(1), flush=True)
print(f"acquired after {time.monotonic() - t0:.1f}s", flush=True)
print("is_locked(1) ->", uwsgi.is_locked(1), flush=True)
print("unlock(1) ->", uwsgi.unlock(1), flush=True)
uwsgi.lock(1)
uwsgi.unlock(1)
print("locked and unlocked again", flush=True)
"""
)


async def test_holder_exits_while_holding(stack, write):
    run = await stack(
        f"--mule={write('dies.py', DIES_HOLDING)}",
        f"--mule={write('probe.py', PROBE_DEAD)}",
        f"--mule={write('locker.py', LOCK_AFTER_DEATH)}",
        "--locks",
        "2",
    )
    await run.line(r"^OOOPS mule 1 \(pid: \d+\) crippled\.\.\.trying respawn\.\.\.$", mule_id=0)
    run.master.send_message(b"go", 2)
    # muletui's documented deviation: uWSGI's is_locked() would steal the dead holder's mutex here
    assert await run.line("^is_locked", mule_id=2) == ["is_locked(1) -> False"]
    run.master.send_message(b"go", 3)
    await run.line("^locked and unlocked again", mule_id=3)
    assert await errors(run, 3) == [RECOVERING]
    assert stream(run, 3, "out") == [
        "lock(1) -> None",
        "acquired after 0.0s",
        "is_locked(1) -> True",
        "unlock(1) -> None",
        "locked and unlocked again",
    ]
    assert stream(run, 2, "out") == ["is_locked(1) -> False"]
    # no recovery line (is_locked() took nothing), but a warning naming what uWSGI would do
    [warning] = await errors(run, 2)
    assert re.fullmatch(
        r"\[muletui\] is_locked\(1\): its holder \(pid \d+\) died holding it\. uWSGI's is_locked\(\) would take "
        r"the lock and never release it, so every later lock\(\) would block forever; muletui answers False "
        r"and leaves it free",
        warning,
    )
    assert [w.mule_id for w in run.of(events.StackWarning)] == [2]
    assert "holding lock 1, exiting" in run.texts(1)


HOLD_FOREVER = """
import os, time, uwsgi
if not os.path.exists("held"):
    open("held", "w").close()
    uwsgi.lock(1)
    print("holding lock 1", flush=True)
time.sleep(60)
"""


async def test_holder_killed_while_holding(stack, write):
    locker = ON_MESSAGE.format(
        body='t0 = time.monotonic(); uwsgi.lock(1); print(f"acquired after {time.monotonic() - t0:.1f}s", flush=True)'
    )
    run = await stack(
        f"--mule={write('hold.py', HOLD_FOREVER)}", f"--mule={write('locker.py', locker)}", "--locks", "1"
    )
    await run.line("^holding lock 1", mule_id=1)
    run.master.kill_mule(1)
    await run.line(r"^OOOPS mule 1 \(pid: \d+\) crippled", mule_id=0)
    assert run.of(events.MuleExited)[0].signal == "SIGKILL"
    run.master.send_message(b"go", 2)
    await run.line("^acquired", mule_id=2)
    assert await errors(run, 2) == [RECOVERING]
    assert stream(run, 2, "out") == ["acquired after 0.0s"]


async def test_recovery_is_logged_even_after_a_foreign_unlock(stack, write):
    # measured on uWSGI 2.0.30: mule 1 lock(1); mule 2 unlock(1) (no-op); mule 1 os._exit;
    # mule 3 lock(1) -> "[deadlock-detector] ..." and "got 1 after 0.00"
    foreign = ON_MESSAGE.format(body='print("unlock(1) ->", uwsgi.unlock(1), flush=True)')
    locker = ON_MESSAGE.format(body='uwsgi.lock(1); print("acquired", flush=True)')
    dies = """
        import os, time, uwsgi
        if os.path.exists("died"):
            time.sleep(60)
        open("died", "w").close()
        uwsgi.lock(1)
        print("holding lock 1", flush=True)
        uwsgi.mule_get_msg()
        os._exit(7)
        """
    run = await stack(
        f"--mule={write('dies.py', dies)}",
        f"--mule={write('foreign.py', foreign)}",
        f"--mule={write('locker.py', locker)}",
        "--locks",
        "1",
    )
    await run.line("^holding lock 1", mule_id=1)
    run.master.send_message(b"go", 2)
    await run.line("^unlock", mule_id=2)
    run.master.send_message(b"die", 1)
    await run.line(r"^OOOPS mule 1 ", mule_id=0)
    run.master.send_message(b"go", 3)
    await run.line("^acquired", mule_id=3)
    assert await errors(run, 3) == [RECOVERING]


THREAD_DIES_HOLDING = """
import threading, time, uwsgi
def holder():
    uwsgi.lock(2)
    print("thread holds lock 2 and ends", flush=True)
th = threading.Thread(target=holder)
th.start()
th.join()
uwsgi.lock(2)
print("main got lock 2", flush=True)
time.sleep(60)
"""


async def test_lock_of_a_thread_that_ended_is_recovered(stack, write):
    # measured on uWSGI 2.0.30: "thread holds 2 and ends", then the main thread's lock(2)
    # logs "[deadlock-detector] ..." and returns after 0.00s
    run = await stack(f"--mule={write('thread_dies.py', THREAD_DIES_HOLDING)}", "--locks", "2")
    await run.line("^thread holds lock 2", mule_id=1)
    await run.line("^main got lock 2", mule_id=1, timeout=3)
    assert await errors(run, 1) == [RECOVERING]


async def test_detail_events_report_lock_operations(stack, write):
    first = """
        import threading, time, uwsgi
        print("tid", threading.get_native_id(), flush=True)
        uwsgi.mule_get_msg()
        uwsgi.lock(1)
        print("holding", flush=True)
        uwsgi.mule_get_msg()
        uwsgi.unlock(1)
        time.sleep(60)
        """
    second = """
        import threading, time, uwsgi
        print("tid", threading.get_native_id(), flush=True)
        uwsgi.mule_get_msg()
        uwsgi.lock(1)
        uwsgi.unlock(1)
        print("done", flush=True)
        time.sleep(60)
        """
    run = await stack(
        f"--mule={write('first.py', first)}",
        f"--mule={write('second.py', second)}",
        "--locks",
        "1",
        detail_events=True,
    )
    await run.line("^tid", count=2)
    run.master.send_message(b"go", 1)
    await run.line("^holding", mule_id=1)
    run.master.send_message(b"go", 2)
    await run.until(lambda: any(e.mule_id == 2 for e in run.of(events.LockOperation)), what="mule 2 waiting")
    run.master.send_message(b"release", 1)
    await run.line("^done", mule_id=2)
    await run.until(lambda: len(run.of(events.LockOperation)) >= 5, what="5 lock events")
    ops = run.of(events.LockOperation)
    tids = {mule_id: int(run.matching("^tid", mule_id)[0].split()[1]) for mule_id in (1, 2)}
    for mule_id, expected in ((1, ["acquired", "released"]), (2, ["wait", "acquired", "released"])):
        mine = [e for e in ops if e.mule_id == mule_id]
        assert [e.operation for e in mine] == expected
        assert {(e.lock, e.thread) for e in mine} == {(1, tids[mule_id])}
    assert len(ops) == 5


async def test_is_locked_does_not_call_a_live_holder_dead(stack, write):
    """is_locked() racing a live holder's unlock() sees a free lock with a holder recorded: no warning."""
    churn = write(
        "churn.py",
        """
        import time, uwsgi
        end = time.monotonic() + 2
        while time.monotonic() < end:
            uwsgi.lock(1)
            uwsgi.unlock(1)
        print("churned", flush=True)
        time.sleep(60)
        """,
    )
    probe = write(
        "probe.py",
        """
        import time, uwsgi
        end = time.monotonic() + 2
        answers = set()
        while time.monotonic() < end:
            answers.add(uwsgi.is_locked(1))
        print("probed", sorted(answers), flush=True)
        time.sleep(60)
        """,
    )
    run = await stack(f"--mule={churn}", f"--mule={probe}", "--locks", "1")
    await run.line("^probed", mule_id=2, timeout=20)
    await run.line("^churned", mule_id=1, timeout=20)
    assert run.texts(2) == ["probed [False, True]"]  # it saw both states, and said nothing else
    assert not run.of(events.StackWarning)


OUT_OF_DESCRIPTORS = """
import os, resource, sys, time, uwsgi
top = max(int(fd) for fd in os.listdir("/proc/self/fd"))
resource.setrlimit(resource.RLIMIT_NOFILE, (top + 1, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
held = []
try:
    while True:
        held.append(os.open("/dev/null", os.O_RDONLY))
except OSError:
    pass
uwsgi.lock(1)
print(f"locked with no descriptor free, is_locked(1)={uwsgi.is_locked(1)}", flush=True)
uwsgi.unlock(1)
for fd in held:
    os.close(fd)
print("unlocked", flush=True)
time.sleep(60)
"""


async def test_lock_needs_no_descriptor(stack, write):
    """As uWSGI's mutexes: lock(), is_locked() and unlock() work with every descriptor taken."""
    run = await stack(f"--mule={write('no_fds.py', OUT_OF_DESCRIPTORS)}", "--locks", "1")
    await run.line("^unlocked$", mule_id=1)
    assert run.texts(1) == ["locked with no descriptor free, is_locked(1)=True", "unlocked"]
    assert not stream(run, 1, "err")


HANDS_BACK = """
import os, time, uwsgi
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # the waiters' CPU: woken, they wait for it
uwsgi.lock(1)
print("holding", flush=True)
uwsgi.mule_get_msg()
uwsgi.unlock(1)
uwsgi.lock(1)  # at once: a lock that lets its releaser barge would give it back here
print("got", time.monotonic_ns(), flush=True)
uwsgi.unlock(1)
time.sleep(60)
"""

QUEUES = """
import os, time, uwsgi
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
os.nice(19)  # woken, the waiters do not preempt the releaser: it could barge if the lock let it
print("pid", os.getpid(), flush=True)
uwsgi.mule_get_msg()
uwsgi.lock(1)
print("got", time.monotonic_ns(), flush=True)
uwsgi.unlock(1)
time.sleep(60)
"""


def queued(pid: int) -> bool:
    """The process sleeps in the kernel's queue of a PI futex (a pthread PI mutex's waiters)."""
    with open(f"/proc/{pid}/wchan") as wchan:
        where = wchan.read()
    return "rt_mutex" in where or "futex" in where


async def waiting_for_the_lock(run, mule_id: int, pid: int) -> None:
    """Until mule ``mule_id`` reported its wait for lock 1 and is queued for it."""
    await run.until(
        lambda: any(e.mule_id == mule_id and e.operation == "wait" for e in run.of(events.LockOperation))
        and queued(pid),
        what=f"mule {mule_id} queued in lock(1)",
    )


async def test_the_lock_goes_to_its_waiters_in_order_and_the_releaser_cannot_barge(stack, write):
    # uWSGI's robust PI mutexes hand an unlocked mutex to its longest waiter
    queues = write("queues.py", QUEUES)
    run = await stack(
        f"--mule={write('hands_back.py', HANDS_BACK)}",
        *[f"--mule={queues}"] * 3,
        "--locks",
        "1",
        detail_events=True,
    )
    await run.line("^holding", mule_id=1)
    for mule_id in (2, 3, 4):
        pid = int((await run.line("^pid", mule_id=mule_id))[0].split()[1])
        run.master.send_message(b"go", mule_id)
        await waiting_for_the_lock(run, mule_id, pid)
    run.master.send_message(b"release", 1)
    await run.line("^got", count=4)
    order = sorted((int(run.matching("^got", mule_id)[0].split()[1]), mule_id) for mule_id in (1, 2, 3, 4))
    assert [mule_id for _t, mule_id in order] == [2, 3, 4, 1]


async def test_a_mule_waiting_for_a_lock_stops_on_its_signal(stack, write):
    """Python runs signal handlers between two waits: a stopped mule does not wait for the lock."""
    run = await stack(
        f"--mule={write('hold.py', HOLD_FOREVER)}",
        f"--mule={write('queues.py', QUEUES)}",
        "--locks",
        "1",
        "--mule-reload-mercy",
        "30",
        detail_events=True,
    )
    await run.line("^holding lock 1", mule_id=1)
    pid = int((await run.line("^pid", mule_id=2))[0].split()[1])
    run.master.send_message(b"go", 2)
    await waiting_for_the_lock(run, 2, pid)
    run.master.stop_mule(2)
    await run.until(lambda: run.of(events.MuleExited), timeout=5, what="mule 2 ended")
    exited = run.of(events.MuleExited)[0]
    assert (exited.mule_id, exited.signal) == (2, None)  # its own handler, not the mercy's SIGKILL
