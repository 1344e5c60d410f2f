"""Mules 1-3: members of farm "pool"."""

import time

import uwsgi

while True:
    job = uwsgi.farm_get_msg()
    time.sleep(0.3)  # the work
    print(f"mule {uwsgi.mule_id()} did {job.decode()}", flush=True)
