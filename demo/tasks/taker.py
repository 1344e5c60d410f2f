"""Mules 1-3: take the first task of the shared list, under lock 0, until none is left."""

import os
import time

import uwsgi
from uwsgidecorators import lock

TASKS = os.environ["MULETUI_TASKS"]


@lock
def take_task():
    with open(TASKS) as tasks:
        lines = tasks.read().splitlines()
    if not lines:
        return None
    time.sleep(0.01)  # the window in which, without a lock, another mule reads the same list
    with open(TASKS, "w") as tasks:
        tasks.write("\n".join(lines[1:]) + ("\n" if lines[1:] else ""))
    return lines[0]


while (task := take_task()) is not None:
    print(f"{task} done by mule {uwsgi.mule_id()}", flush=True)
    time.sleep(0.05)
print(f"mule {uwsgi.mule_id()}: no task left", flush=True)
while True:
    time.sleep(60)  # a programmed mule that returned would be respawned
