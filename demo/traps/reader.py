"""Mule 3: a programmed mule that reads with a tiny buffer (and competes for id-less messages)."""

import uwsgi

while True:
    message = uwsgi.mule_get_msg(buffer_size=16)
    print(f"read {len(message)} bytes: {message!r}", flush=True)
