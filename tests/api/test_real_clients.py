"""uwsgiconf 2.4.0 and uwsgi-tasks 0.7.3, unchanged, on muletui (issue 12).

Each stack was run on pyuwsgi 2.0.30 first (``--master --http-socket 127.0.0.1:0`` plus the
same options); the lines asserted here are what it printed.
"""

from __future__ import annotations

CONF_APP = """
import uwsgi
from uwsgiconf.runtime.locking import Lock
from uwsgiconf.runtime.mules import Farm, Mule
from uwsgiconf.runtime.scheduling import register_cron, register_timer
from uwsgiconf.runtime.signals import Signal

@Mule(1).offload()
def on_one(n):
    print("on_one", n, "in mule", uwsgi.mule_id(), flush=True)

@Farm("f").offload()
def on_farm(n):
    print("on_farm", n, "in mule", uwsgi.mule_id(), flush=True)

@register_timer(1, target="mule1")
def tick():
    print("tick in mule", uwsgi.mule_id(), flush=True)

@register_cron(target="mule2")
def every_minute():
    print("cron in mule", uwsgi.mule_id(), flush=True)

ping = Signal()
@ping.register_handler(target="mule2")
def pong(num):
    print("pong", num, "in mule", uwsgi.mule_id(), flush=True)

second = Signal()
print("signals", int(ping), int(second), flush=True)
lock = Lock()
with lock:
    print("locked", lock.is_set, flush=True)
print("unlocked", lock.is_set, flush=True)
on_one(1)
on_farm(2)
print("send", Mule(2).send(b"hello"), flush=True)
ping.send()
"""

READER = """
from uwsgiconf.runtime.mules import Mule
print("reader", Mule.get_current_id(), flush=True)
print("got", repr(Mule.get_message(signals=False, timeout=2)), flush=True)
"""


async def test_uwsgiconf_runtime_offload_signals_timers_cron_and_locks(stack, write):
    app = write("app.py", CONF_APP)
    run = await stack(f"--wsgi-file={app}", "--mule", f"--mule={write('reader.py', READER)}", "--farm=f:1")
    await run.line("^tick in mule 1$", mule_id=1, count=2)
    await run.line("^cron in mule 2$", mule_id=2)
    assert run.matching(r"^(signals|locked|unlocked|send) ", mule_id=0) == [
        "signals 2 3", "locked True", "unlocked False", "send True",
    ]
    # uWSGI's master has no signal socket while it imports the app: ping.send() is lost
    assert "uwsgi_signal_send(): Bad file descriptor [core/signal.c line 306]" in run.texts(0)
    assert run.matching("^pong") == []
    assert run.matching("^on_", mule_id=1) == ["on_one 1 in mule 1", "on_farm 2 in mule 1"]
    assert run.matching("^got", mule_id=2)[0] == "got 'hello'"
    for number, target in ((0, "mule1"), (1, "mule2"), (2, "mule2")):
        assert f"[uwsgi-signal] signum {number} registered (wid: 0 modifier1: 0 target: {target})" in run.texts(0)


TASKS_APP = """
import uwsgi
from uwsgi_tasks import TaskExecutor, cron, task, timer

@task(executor=TaskExecutor.MULE)
def anywhere(n):
    print("anywhere", n, "in a mule", flush=True)

@task(executor=TaskExecutor.MULE, mule=2)
def on_two(n):
    print("on_two", n, "in mule", uwsgi.mule_id(), flush=True)

@timer(seconds=1, target="mule1")
def tick(signum):
    print("tick", signum, "in mule", uwsgi.mule_id(), flush=True)

@cron(minute=-1, target="mule2")
def every_minute(signum):
    print("cron", signum, "in mule", uwsgi.mule_id(), flush=True)

print("spool", uwsgi.SPOOL_OK, uwsgi.SPOOL_IGNORE, uwsgi.SPOOL_RETRY, flush=True)
anywhere(1)
on_two(2)
on_two(3)
"""


async def test_uwsgi_tasks_mule_tasks_timer_and_cron(stack, write):
    run = await stack(f"--wsgi-file={write('app.py', TASKS_APP)}", "--mule", "--mule")
    await run.line("^tick 0 in mule 1$", mule_id=1, count=2)
    await run.line("^cron 1 in mule 2$", mule_id=2)
    await run.line("^anywhere 1 in a mule$")
    assert "spool -2 0 -1" in run.texts(0)
    assert run.matching("^on_two", mule_id=2) == ["on_two 2 in mule 2", "on_two 3 in mule 2"]
