"""Lesson "tasks": the app writes the task list once, before the mules start."""

import os
import tempfile

TASKS = os.path.join(tempfile.gettempdir(), f"muletui-tasks-{os.getpid()}.txt")
with open(TASKS, "w") as tasks:
    tasks.write("\n".join(f"task {n}" for n in range(1, 31)) + "\n")
os.environ["MULETUI_TASKS"] = TASKS
