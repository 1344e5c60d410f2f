"""A programmed mule that offloads work: a message to mule 1 every 3 s, and an id-less one.

The id-less message goes to whichever mule reads the shared queue first: somaro (mule 1) or
the signal-mode mule 3, whose mule_msg_hook takes it. Run it a few times and watch the race.
"""

import itertools
import time

import uwsgi

for n in itertools.count(1):
    time.sleep(3)
    uwsgi.mule_msg(f"job {n} for mule 1", 1)
    uwsgi.mule_msg(f"id-less job {n}: first mule to read wins")
