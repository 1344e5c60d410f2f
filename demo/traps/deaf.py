"""Mule 1: waits for messages with the defaults, so signals pile up; listens when told; in turns.

``listen now`` switches it to ``mule_get_msg(signals=False)``, ``stop listening`` back to the
defaults. The sender (mule 6) sends both every 20 s, so the trap repeats; a person can send
them too (select mule 1, ``m``).
"""

import uwsgi

while True:
    print("waiting with mule_get_msg(): signals=True, so signals are NOT taken", flush=True)
    while (got := uwsgi.mule_get_msg()) != b"listen now":
        print("got", got, flush=True)  # an id-less message it won (trap 2)
    print("now waiting with mule_get_msg(signals=False): the piled-up signals run, one per call", flush=True)
    while (got := uwsgi.mule_get_msg(signals=False)) != b"stop listening":
        print("mule_get_msg(signals=False) returned", repr(got), flush=True)
