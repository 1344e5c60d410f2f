"""Mule 1: waits for messages with the defaults, so signals pile up; then listens."""

import uwsgi

print("waiting with mule_get_msg() (signals=True: signals are NOT taken)", flush=True)
for _ in range(3):
    print("got", uwsgi.mule_get_msg(), flush=True)
print("now waiting with mule_get_msg(signals=False)", flush=True)
while True:
    got = uwsgi.mule_get_msg(signals=False)
    print("mule_get_msg(signals=False) returned", repr(got), flush=True)
