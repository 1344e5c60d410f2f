"""Mule 4: sends a job to the farm every half second."""

import itertools
import time

import uwsgi

for n in itertools.count(1):
    time.sleep(0.5)
    uwsgi.farm_msg("pool", f"job {n}")
