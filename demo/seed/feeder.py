"""A programmed mule that drives the demo: every 3 s a message to mule 1 and an id-less one,
signal 17 (mule 2's), and a touch of the monitored folder.

The id-less message goes to whichever mule reads the shared queue first: somaro (mule 1) or
a signal-mode mule, whose mule_msg_hook takes it. Watch the race.
"""

import itertools
import os
import tempfile
import time

import uwsgi

WATCHED = os.path.join(tempfile.gettempdir(), "muletui-demo")

for n in itertools.count(1):
    time.sleep(3)
    uwsgi.mule_msg(f"job {n} for mule 1", 1)
    uwsgi.mule_msg(f"id-less job {n}: first mule to read wins")
    uwsgi.signal(17)
    if n % 3 == 0:
        with open(os.path.join(WATCHED, "touched"), "w") as touched:
            touched.write(str(n))
