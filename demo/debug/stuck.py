"""Mule 2 of the "debug" lesson: it waits for a report that never comes. Where is it stuck?"""

import os
import tempfile
import time

REPORT = os.path.join(tempfile.gettempdir(), f"muletui-lesson-report-{os.getppid()}")


def wait_for(path):
    while not os.path.exists(path):
        time.sleep(1)


def fetch_report():
    wait_for(REPORT)
    with open(REPORT) as report:
        return report.read()


print("stuck.py: fetching the report...", flush=True)
print("stuck.py: got the report:", repr(fetch_report()), flush=True)
os.unlink(REPORT)
while True:
    time.sleep(60)
