"""A signal with a Python handler ends a mule's wait as it ends uWSGI's ``poll()`` (EINTR).

Measured under uWSGI 2.0.30 (pyuwsgi), a mule whose script set ``signal.signal(SIGINT, ...)``:
``mule_get_msg()`` logs ``uwsgi_mule_get_msg()/poll(): Interrupted system call [core/mule.c
line 338]`` and returns ``b''`` (with or without ``timeout`` and ``signals=False``);
``farm_get_msg()`` logs ``poll(): Interrupted system call [plugins/python/uwsgi_pymodule.c line
1384]`` and returns ``None``; ``signal_wait()`` raises ``SystemError: error waiting for signal``
with no line; a handler that raises has its exception come out of the call, after the line.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

from muletui.engine import events
from muletui.ipc.stats_block import Activity

WAITER = """
import os, signal, uwsgi

def handler(signum, frame):
    print("handler ran", signum, flush=True)

signal.signal(signal.SIGINT, handler)
print("1 ->", repr(uwsgi.mule_get_msg()), flush=True)
print("2 ->", repr(uwsgi.mule_get_msg(timeout=30)), flush=True)
print("3 ->", repr(uwsgi.mule_get_msg(signals=False)), flush=True)
print("4 ->", repr(uwsgi.farm_get_msg()), flush=True)
try:
    uwsgi.signal_wait()
except SystemError as error:
    print("5 -> SystemError:", error, flush=True)
os.kill(os.getpid(), signal.SIGINT)  # handled before the next wait: it must not end it
print("6 ->", repr(uwsgi.mule_get_msg()), flush=True)
signal.signal(signal.SIGINT, signal.default_int_handler)
try:
    uwsgi.farm_get_msg()
except KeyboardInterrupt:
    print("7 -> KeyboardInterrupt", flush=True)
while True:
    uwsgi.signal_wait()
"""

MULE_LINE = "uwsgi_mule_get_msg()/poll(): Interrupted system call [core/mule.c line 338]"
FARM_LINE = "poll(): Interrupted system call [plugins/python/uwsgi_pymodule.c line 1384]"


async def _waiting(run, activity: Activity) -> None:
    """Until mule 1 waits in ``activity``: set once its wait no longer looks back, so a signal
    sent from then on ends the wait."""
    deadline = time.monotonic() + 10
    while run.master.snapshot().mules[0].activity is not activity:
        assert time.monotonic() < deadline, f"mule 1 never reached {activity.name}"
        await asyncio.sleep(0.005)


async def _interrupt_when(run, activity: Activity) -> None:
    await _waiting(run, activity)
    os.kill(run.of(events.MuleSpawned)[-1].pid, signal.SIGINT)


async def test_a_handled_signal_ends_each_wait_with_uwsgis_line_and_value(stack, write):
    run = await stack(f"--mule={write('waiter.py', WAITER)}", "--farm", "f:1")
    steps = [
        (Activity.WAITING_MESSAGE, "1 -> b''"),
        (Activity.WAITING_MESSAGE, "2 -> b''"),
        (Activity.WAITING_MESSAGE, "3 -> b''"),
        (Activity.WAITING_FARM, "4 -> None"),
        (Activity.WAITING_SIGNAL, "5 -> SystemError: error waiting for signal"),
    ]
    for activity, said in steps:
        await _interrupt_when(run, activity)
        await run.line(f"^{said.replace('(', '.')}$", mule_id=1)
    await run.line("^handler ran 2$", mule_id=1, count=6)  # five waits, and the kill before step 6
    assert run.master.send_message(b"late", 1) == "queued"
    await run.line(r"^6 -> b'late'$", mule_id=1)
    await _interrupt_when(run, Activity.WAITING_FARM)
    await run.line("^7 -> KeyboardInterrupt$", mule_id=1)
    out = [text for mule, stream, text in run.lines if mule == 1 and stream == "out" and "->" in text]
    err = [text for mule, stream, text in run.lines if mule == 1 and stream == "err" and "Interrupted" in text]
    assert out == [
        "1 -> b''", "2 -> b''", "3 -> b''", "4 -> None", "5 -> SystemError: error waiting for signal",
        "6 -> b'late'", "7 -> KeyboardInterrupt",
    ]
    assert err == [MULE_LINE, MULE_LINE, MULE_LINE, FARM_LINE, FARM_LINE]


GRACEFUL = """
import signal, uwsgi

stopping = False

def stop(signum, frame):
    global stopping
    stopping = True

signal.signal(signal.SIGINT, stop)
while not stopping:
    uwsgi.mule_get_msg()
print("stopped cleanly", flush=True)
"""


async def test_the_shutdown_sigint_lets_a_mule_with_a_handler_leave_its_loop(stack, write):
    run = await stack(f"--mule={write('graceful.py', GRACEFUL)}")
    await _waiting(run, Activity.WAITING_MESSAGE)
    started = time.monotonic()
    await run.master.stop("SIGINT/SIGTERM received")
    assert time.monotonic() - started < run.master.shutdown_grace  # it left by itself: nothing was killed
    assert [event.code for event in run.of(events.MuleExited)] == [0]
    texts = run.texts()
    assert texts.index(MULE_LINE) > texts.index("SIGINT/SIGTERM received...killing workers...")
    assert "stopped cleanly" in run.texts(1)
