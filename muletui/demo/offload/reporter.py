"""Mule 1: a programmed mule that turns messages into report lines."""

import uwsgi

while True:
    message = uwsgi.mule_get_msg()
    print(f"report: {message.decode()}", flush=True)
