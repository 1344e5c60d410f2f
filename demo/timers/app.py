"""Lesson "timers": four schedules, one signal-mode mule runs the handlers."""

import time

import uwsgi
from uwsgidecorators import cron, get_free_signal, timer

STARTED = time.monotonic()


def stamp(what):
    print(f"{time.monotonic() - STARTED:6.2f}s {what} on mule {uwsgi.mule_id()}", flush=True)


@timer(2, target="mule")
def every_two_seconds(signum):
    stamp("timer (every 2 s)")


@cron(-1, -1, -1, -1, -1, target="mule")
def every_minute(signum):
    stamp("cron (every minute)")


RB = get_free_signal()
uwsgi.register_signal(RB, "mule", lambda signum: stamp("rb timer (5 s, 5 times)"))
uwsgi.add_rb_timer(RB, 5, 5)

NEVER = get_free_signal()
uwsgi.register_signal(NEVER, "mule", lambda signum: stamp("this never runs"))
uwsgi.add_timer(NEVER, 0)
