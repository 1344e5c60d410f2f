"""Mule 1 of the "requests" lesson: sends the mails the web app hands it, one at a time."""

import time

import uwsgi

while True:
    order = uwsgi.mule_get_msg().decode()
    time.sleep(0.5)  # the slow part the request did not wait for
    print(f"sent: {order}", flush=True)
