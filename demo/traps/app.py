"""Lesson "traps": signal 30 for mule 1, which will not listen at first."""

import uwsgi


def handler(signum):
    print(f"signal {signum} finally handled on mule {uwsgi.mule_id()}", flush=True)


uwsgi.register_signal(30, "mule1", handler)
