"""The demo app: the seed document's example, imported once in the master before the mules fork.

- a timer on the first available mule (``target='mule'``): never the programmed mule 1, which
  waits in ``mule_get_msg()`` with the defaults and so does not listen for signals;
- signal 17 mapped to mule 2 (the feeder raises it every few seconds);
- a file monitor on all mules (the seed watches ``/tmp``; the demo watches a quieter folder of
  its own, which the feeder touches);
- a ``mule_msg_hook`` for the messages a signal-mode mule wins.
"""

import os
import tempfile

import uwsgi
from uwsgidecorators import filemon, signal, timer

WATCHED = os.path.join(tempfile.gettempdir(), "muletui-demo")
os.makedirs(WATCHED, exist_ok=True)

print(f"[app] imported once, in the master side (pid {os.getpid()}), masterpid={uwsgi.masterpid()}")


# run a timer in the first available mule
@timer(30 // 6, target="mule")
def hello(signum):
    print("Hi! I am responding to signal %d, running on mule %d" % (signum, uwsgi.mule_id()))


# map signal 17 to mule 2
@signal(17, target="mule2")
def i_am_mule2(signum):
    print("Greetings! I am running in mule number two.")


# monitor a folder and arouse all of the mules on modifications
@filemon(WATCHED, target="mules")
def tmp_modified(signum):
    print("%s has been modified. I am mule %d!" % (WATCHED, uwsgi.mule_id()))


def mule_msg_hook(message):
    print(f"[hook] signal-mode mule {uwsgi.mule_id()} got {message!r}")


# uwsgidecorators installed a pickle dispatcher as the hook; the demo sends plain text.
uwsgi.mule_msg_hook = mule_msg_hook

# Queued now, read by mule 1 as soon as it starts: queues outlive (and predate) mules.
uwsgi.mule_msg("ciuchino", 1)


def application(environ, start_response):
    """A WSGI app, so the same file also runs under real uWSGI (which wants one)."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"the mules do the work\n"]
