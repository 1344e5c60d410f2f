"""The app of the "debug" lesson: two signal handlers for the signal-mode mule 3.

Signal 20 (a timer, every 3 s) counts what the mule has seen; signal 21 (raise it yourself:
g, 21, Enter) audits the counts, and stops at a breakpoint to let you look.
"""

import uwsgi

stats = {"ticks": 0}


def tally(signum):
    stats["ticks"] += 1


def audit(signum):
    seen = dict(stats)
    breakpoint()  # the console stops mule 3 here: try p seen, then n, then c
    print("audit done:", seen, flush=True)


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"the debug lesson: its mules do the work\n"]


uwsgi.register_signal(20, "mule3", tally)
uwsgi.add_timer(20, 3)
uwsgi.register_signal(21, "mule3", audit)
