"""Mule 6: drives the traps, each on its own beat and forever, so that a class can watch any of
them at any time (one tick a second):

- trap 1: signal 30 for mule 1 every 2 s; mule 1 is deaf for 14 s, then told to listen for 6 s;
- trap 2: an id-less message every 3 s;
- trap 3: a long message for mule 3 every 4 s;
- trap 4: 15 messages a second for mule 4 until its queue is full, then one more every 15 s.
"""

import itertools
import time

import uwsgi

CYCLE, LISTEN = 20, 14  # trap 1: mule 1 listens from second 14 to second 20 of each cycle

sent_to_4 = 0
full = False
for tick in itertools.count(1):
    time.sleep(1)
    if tick % 2 == 0:
        uwsgi.signal(30)  # for mule 1: it piles up while mule 1 is deaf, runs at once while it listens
    if tick % CYCLE == LISTEN:
        uwsgi.mule_msg("listen now", 1)
    elif tick % CYCLE == 0:
        uwsgi.mule_msg("stop listening", 1)
    if tick % 3 == 0:
        uwsgi.mule_msg(f"id-less message {tick // 3}, meant for a programmed mule")
    if tick % 4 == 0:
        uwsgi.mule_msg(f"a message that is much longer than sixteen bytes ({tick // 4})", 3)
    if not full:
        for _ in range(15):
            if not uwsgi.mule_msg(f"job {sent_to_4 + 1} for mule 4", 4):
                full = True
                print(f"mule 4's queue took {sent_to_4} messages, then mule_msg returned False", flush=True)
                break
            sent_to_4 += 1
    elif tick % 15 == 0 and not uwsgi.mule_msg("one more job for mule 4", 4):
        print("mule 4's queue is still full: mule_msg returned False", flush=True)
