"""Mule 6: drives the traps."""

import time

import uwsgi

time.sleep(1)
for n in range(1, 4):
    uwsgi.signal(30)  # for mule 1, which does not listen yet
    uwsgi.mule_msg(f"id-less message {n}, meant for a programmed mule")
    uwsgi.mule_msg(f"a message that is much longer than sixteen bytes ({n})", 3)
    time.sleep(1)
for n in range(1, 4):
    uwsgi.mule_msg(f"wake up {n}", 1)
    time.sleep(0.5)
accepted = 0
while uwsgi.mule_msg(b"flood", 4):
    accepted += 1
print(f"mule 4's queue took {accepted} messages, then mule_msg returned False", flush=True)
while True:
    time.sleep(60)
