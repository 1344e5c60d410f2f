"""Lesson "tasks": the app writes the first tasks once, before the mules start.

The file's first line counts the tasks added so far; the tasks follow, one a line. The mules
take them under lock 0 and add the next batch when the list runs out, so the lesson keeps going.
"""

import os
import tempfile

BATCH = 5

TASKS = os.path.join(tempfile.gettempdir(), f"muletui-tasks-{os.getpid()}.txt")
with open(TASKS, "w") as tasks:
    tasks.write(f"{BATCH}\n" + "".join(f"task {n}\n" for n in range(1, BATCH + 1)))
os.environ["MULETUI_TASKS"] = TASKS
