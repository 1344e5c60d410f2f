"""Mule 1: a programmed mule that turns messages into report lines.

Like every mule, it also reads the shared queue: an id-less ``@mulefunc`` call (pickled) can
land here instead of on a signal-mode mule. uWSGI would not run it here either: it is lost.
"""

import uwsgi

while True:
    message = uwsgi.mule_get_msg()
    if message.startswith(b"\x80"):  # a pickle: an id-less @mulefunc call meant for a signal-mode mule
        print("mule 1 took an id-less @mulefunc call: it is lost here (the id-less race)", flush=True)
    else:
        print(f"report: {message.decode(errors='replace')}", flush=True)
