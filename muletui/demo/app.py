"""The demo app: imported once in the master, before the mules start (as under uWSGI).

Signal-mode mules hand every message they win to ``uwsgi.mule_msg_hook``.
"""

import os

import uwsgi

print(f"[app] imported once, in the master side (pid {os.getpid()}), masterpid={uwsgi.masterpid()}")


def mule_msg_hook(message):
    print(f"[hook] signal-mode mule {uwsgi.mule_id()} got {message!r}")


uwsgi.mule_msg_hook = mule_msg_hook

# Queued now, read by mule 1 as soon as it starts: queues outlive (and predate) mules.
uwsgi.mule_msg("ciuchino", 1)
