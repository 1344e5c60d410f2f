"""Mules 1-3: members of farm "pool". A job takes 2.5 s: three members keep up with a job a
second; two do not, and the farm's queue grows."""

import time

import uwsgi

while True:
    job = uwsgi.farm_get_msg()
    time.sleep(2.5)  # the work
    print(f"mule {uwsgi.mule_id()} did {job.decode()}", flush=True)
