"""The master's once-a-second checks, as uWSGI's master cycle does them: mule harakiri
(``--mule-harakiri``, ``uwsgi.set_user_harakiri``) and the ``--touch-reload`` then
``--touch-mules-reload`` files (:mod:`muletui.engine.touches`; one reload per cycle, as uWSGI's),
the first check one cycle after the start.

Two additions of muletui's to harakiri. A mule whose debugger waits at its ``(Pdb)`` prompt is
not killed (one line says harakiri waits); the mule pushes its deadlines back by the time it
waited as it goes on (:mod:`muletui.stack.agent`). And before killing a mule, the watchdog logs
the mule's live stacks in the format of uWSGI's ``--py-tracebacker`` (which uWSGI prints for
workers only: for a mule it prints no stack), the user's frames only; a mule that does not
answer within :data:`STACKS_TIMEOUT` is killed all the same.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from muletui.engine.agents import MuleAgents, MuleGoneError
from muletui.engine.touches import TouchFile, first_touched
from muletui.ipc.agent_wire import Stop, ThreadStack
from muletui.ipc.stats_block import Field, StatsBlock

PERIOD = 1.0  # uWSGI checks both once per master cycle (~1 s)
STACKS_TIMEOUT = 0.5  # how long a mule about to be killed gets to show its stacks


@dataclass
class WatchdogActions:
    """What the watchdog may do to the stack."""

    running_pids: Callable[[], dict[int, int]]  # mule id -> pid of the running incarnation
    kill: Callable[[int], None]  # SIGKILL mule id (the master then respawns it)
    reload_mules: Callable[[], None]
    reload_stack: Callable[[], None]
    log: Callable[[str], None]
    agents: MuleAgents  # where a mule's debugger waits, and its live stacks


class Watchdog:
    """Ticks every :data:`PERIOD` seconds on the event loop until closed."""

    def __init__(
        self, stats: StatsBlock, touch_files: list[str], actions: WatchdogActions, reload_files: list[str]
    ) -> None:
        self._stats = stats
        self._actions = actions
        self._touch_files = [TouchFile(path) for path in touch_files]
        self._reload_files = [TouchFile(path) for path in reload_files]
        self._loop = asyncio.get_running_loop()
        self._handle = self._loop.call_later(PERIOD, self._tick)
        self._spared: dict[int, Stop] = {}  # the stop each mule's harakiri waits for, said once
        self._killing: set[asyncio.Task[None]] = set()

    def _tick(self) -> None:
        self._check_harakiri()
        self._check_touched()
        self._handle = self._loop.call_later(PERIOD, self._tick)

    def _check_harakiri(self) -> None:
        now = time.monotonic_ns()
        for mule_id, pid in self._actions.running_pids().items():
            record = self._stats.record(mule_id)
            if 0 < record[Field.HARAKIRI_AT] < now:
                header = f"*** HARAKIRI ON MULE {mule_id} HANDLING SIGNAL {record[Field.HARAKIRI_SIGNAL]} (pid: {pid}) ***"
            elif 0 < record[Field.USER_HARAKIRI_AT] < now:
                header = f"*** HARAKIRI ON MULE {mule_id} (pid: {pid}) ***"
            else:
                continue
            stop = self._actions.agents.stopped_at(mule_id)
            if stop is not None:
                if self._spared.get(mule_id) is not stop:
                    self._spared[mule_id] = stop
                    self._actions.log(f"harakiri waits: mule {mule_id} (pid: {pid}) is at its (Pdb) prompt "
                                      f"({stop.where}); its deadline moves on by the time it waits there")
                continue
            self._spared.pop(mule_id, None)
            self._actions.log(header)
            self._stats.set(mule_id, Field.HARAKIRI_AT, 0)
            self._stats.set(mule_id, Field.USER_HARAKIRI_AT, 0)
            task = self._loop.create_task(self._kill_after_stacks(mule_id, pid))
            self._killing.add(task)
            task.add_done_callback(self._killing.discard)

    async def _kill_after_stacks(self, mule_id: int, pid: int) -> None:
        """Log the mule's live stacks (or that it showed none in time), then SIGKILL it, if that
        incarnation still runs."""
        try:
            stacks = await self._actions.agents.stacks(mule_id, STACKS_TIMEOUT)
        except TimeoutError:
            self._actions.log(f"mule {mule_id} (pid: {pid}) showed no stack within {STACKS_TIMEOUT:g} s")
        except MuleGoneError:
            pass
        else:
            for line in tracebacker_lines(stacks):
                self._actions.log(line)
        if self._actions.running_pids().get(mule_id) != pid:
            return
        stop = self._actions.agents.stopped_at(mule_id)
        if stop is None:
            self._actions.kill(mule_id)
        else:  # it reached a breakpoint while its stacks were taken: a prompt is never killed
            self._actions.log(f"harakiri spares mule {mule_id} (pid: {pid}): it stopped at its (Pdb) prompt ({stop.where})")

    def _check_touched(self) -> None:
        touched = first_touched(self._reload_files, self._actions.log)
        if touched is not None:
            self._actions.log(f"*** {touched.path} has been touched... grace them all !!! ***")
            self._actions.reload_stack()
            return
        touched = first_touched(self._touch_files, self._actions.log)
        if touched is not None:
            self._actions.log(f"*** {touched.path} has been touched... mules reload !!! ***")
            self._actions.reload_mules()

    def close(self) -> None:
        self._handle.cancel()
        for task in self._killing:
            task.cancel()


def tracebacker_lines(stacks: tuple[ThreadStack, ...]) -> list[str]:
    """``stacks`` as uWSGI's ``--py-tracebacker`` prints them: a header and a blank line, then
    per thread one line per frame, outermost first, and a blank line. muletui's own frames are
    left out, and so is a thread that has no other."""
    lines = ["*** uWSGI Python tracebacker output ***", ""]
    for thread in stacks:
        frames = [frame for frame in thread.frames if not frame.internal]
        for frame in frames:
            source = f" line = {frame.source}" if frame.source else ""
            lines.append(f"thread_id = {thread.name} filename = {frame.file} lineno = {frame.line} "
                         f"function = {frame.function}{source}")
        if frames:
            lines.append("")
    return lines

