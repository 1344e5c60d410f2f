"""Mules 1-3: take the first task of the shared list, under lock 0, and work on it; forever.

Taking a task is slow on purpose (3 s with the lock held), so that the Locks & farms tab shows
who holds lock 0 and who waits, and a person can kill the holder. Working on it (1-2 s) happens
after the lock is released, so the other mules take tasks meanwhile.
"""

import os
import random
import time

import uwsgi
from uwsgidecorators import lock

TASKS = os.environ["MULETUI_TASKS"]
BATCH = 5
HOLD = 3  # seconds with lock 0 held: the window in which, without a lock, another mule reads the same list
MULE = uwsgi.mule_id()


@lock
def take_task():
    """Read the list, remove the first task, write the rest back (adding a batch if it ran out)."""
    print(f"mule {MULE} holds lock 0: taking a task ({HOLD} s)", flush=True)
    with open(TASKS) as tasks:
        added, *waiting = tasks.read().splitlines()
    added = int(added)
    if not waiting:  # the list ran out: add the next batch, so the lesson keeps going
        waiting = [f"task {n}" for n in range(added + 1, added + BATCH + 1)]
        print(f"mule {MULE}: the list ran out, adding tasks {added + 1}-{added + BATCH}", flush=True)
        added += BATCH
    time.sleep(HOLD)
    with open(TASKS, "w") as tasks:
        tasks.write(f"{added}\n" + "".join(f"{task}\n" for task in waiting[1:]))
    return waiting[0]


while True:
    task = take_task()
    print(f"{task} taken by mule {MULE}; lock 0 released, working on it", flush=True)
    time.sleep(random.uniform(1, 2))  # the work, with the lock released
    print(f"{task} done by mule {MULE}", flush=True)
