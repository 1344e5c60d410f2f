"""Mule 4: sends a job to the farm every second (a little less than the three members can do)."""

import itertools
import time

import uwsgi

for n in itertools.count(1):
    time.sleep(1)
    uwsgi.farm_msg("pool", f"job {n}")
