"""The headless runner: the same master as the console, with a plain prefixed log on stdout.

Line format: ``HH:MM:SS.mmm SOURCE | text`` for stdout lines and master log lines,
``HH:MM:SS.mmm SOURCE ! text`` for a process's stderr (which is where uWSGI's own lines from
mules go). ``SOURCE`` is ``master`` or ``mule N``. Colours only when stdout is a terminal.
A trap spotted for the first time gets one ``master ! muletui hint: text`` line (message traps
only while per-message events are collected, as with ``--events``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Callable
from typing import TextIO

from muletui.config.builder import Plan
from muletui.engine import events
from muletui.engine.bus import Subscription
from muletui.engine.master import StackStartError, StackState
from muletui.engine.traps import EVENT_KINDS, TrapSpotter
from muletui.recorders import source_name
from muletui.session import HangUp, RecordError, StackSession
from muletui.terminal_debugger import DEBUGGER_KINDS, TerminalDebugger

_COLOURS = (36, 33, 32, 35, 34, 91, 92, 93, 94, 95, 96)


class Printer:
    """Writes events as lines; one instance per output stream.

    When the stream breaks (``muletui --headless | head``), printing stops and ``on_broken``
    is called once; the stream is pointed at ``/dev/null`` so that no later write fails.
    """

    def __init__(
        self, out: TextIO, on_broken: Callable[[], None] = lambda: None, traps: TrapSpotter | None = None
    ) -> None:
        self._out = out
        self._colour = out.isatty()
        self._on_broken = on_broken
        self.broken = False
        self._traps = traps or TrapSpotter()
        self._hinted: set[str] = set()  # keys of the traps already explained
        self._second, self._clock = -1, ""  # the last stamp's whole second, and its HH:MM:SS

    def _prefix(self, wall: float, mule_id: int, mark: str, worker_id: int = 0) -> str:
        second = int(wall)
        if second != self._second:  # strftime once a second, not once a line
            self._second, self._clock = second, time.strftime("%H:%M:%S", time.localtime(second))
        stamp = f"{self._clock}.{int(wall % 1 * 1000):03d}"
        name = source_name(mule_id, worker_id)
        name = name.ljust(8) if len(name) < 8 else name + " "  # "worker 12" keeps a space too
        if self._colour:
            colour = 37 if mule_id <= 0 else _COLOURS[(mule_id - 1) % len(_COLOURS)]
            name = f"\x1b[{colour}m{name}\x1b[0m"
        return f"{stamp} {name}{mark} "

    def write(self, batch: list[events.Event]) -> None:
        parts: list[str] = []
        for event in batch:
            if isinstance(event, events.OutputLines):
                mark = "|" if event.stream == "out" else "!"
                for line in event.lines:
                    parts.append(self._prefix(line.wall, event.mule_id, mark, event.worker_id) + line.text + "\n")
            elif isinstance(event, events.MasterLog):
                parts.append(self._prefix(event.wall, 0, "|") + event.text + "\n")
            elif isinstance(event, events.StackWarning):
                parts.append(self._prefix(event.wall, 0, "!") + "muletui warning: " + event.text + "\n")
        for trap in self._traps.spot_events(batch):
            if trap.key not in self._hinted:
                self._hinted.add(trap.key)
                parts.append(self._prefix(time.time(), 0, "!") + "muletui hint: " + trap.text + "\n")
        if parts:
            self._emit("".join(parts))

    def notice(self, text: str) -> None:
        self._emit(self._prefix(time.time(), 0, "!") + text + "\n")

    def line(self, mule_id: int, text: str) -> None:
        """One line of muletui's own about ``mule_id`` (0: the master), stamped now."""
        self._emit(self._prefix(time.time(), mule_id, "!") + text + "\n")

    def raw(self, text: str) -> None:
        """``text`` as it is: what a mule's debugger prints, its prompt without a newline."""
        self._emit(text)

    def _emit(self, text: str) -> None:
        if self.broken:
            return
        try:
            self._out.write(text)
            self._out.flush()
        except BrokenPipeError:
            self.broken = True
            with contextlib.suppress(OSError, ValueError):  # not every stream has a descriptor
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, self._out.fileno())
                os.close(devnull)
            self._on_broken()


async def _print_forever(subscription: Subscription, printer: Printer, show: Callable[[list[events.Event]], None]) -> None:
    reported = 0
    while batch := await subscription.batch():
        show(batch)
        if subscription.dropped > reported:
            printer.notice(f"muletui: {subscription.dropped - reported} events dropped by a slow stdout")
            reported = subscription.dropped


async def run_headless(plan: Plan, out: TextIO = sys.stdout, stdin: int = 0) -> int:
    """Run the stack until a signal, ``--duration`` or a fatal failure; the exit status.

    With a terminal on ``stdin``, a mule's breakpoint stops it at a ``(Pdb)`` prompt on that
    terminal (:mod:`muletui.terminal_debugger`); without one, a breakpoint is a warning.
    """
    debugging = os.isatty(stdin)
    try:
        session = StackSession(plan, HangUp.RELOAD, detail_events=bool(plan.run.events_file), debugger=debugging)
    except RecordError as error:
        print(f"muletui: {error}", file=sys.stderr)
        return 1
    modes = {mule.mule_id: mule.mode == "signal" for mule in plan.stack.mules}
    printer = Printer(out, lambda: session.request_stop("stdout closed"), TrapSpotter(modes))
    kinds = (events.OutputLines, events.MasterLog, *EVENT_KINDS, *(DEBUGGER_KINDS if debugging else ()))
    subscription = session.bus.subscribe(kinds=kinds)
    terminal = None
    if debugging:
        terminal = TerminalDebugger(printer, lambda mule_id, line: session.master.agents.type_line(mule_id, line), stdin)
    printing = asyncio.create_task(_print_forever(subscription, printer, terminal.write if terminal else printer.write))
    session.watch_process_signals()
    duration = None
    if plan.run.duration is not None:  # from the start: an app that hangs at import is stopped too
        duration = asyncio.get_running_loop().call_later(plan.run.duration, session.request_stop)
    status = 0
    try:
        try:
            await session.start()
            await session.wait_ended()  # through the reloads the session makes
        except StackStartError as error:
            printer.notice(f"muletui: {error}")
            status = error.status
        else:
            status = 1 if session.master.state is StackState.FAILED else 0
    finally:
        if duration is not None:
            duration.cancel()
        session.unwatch_process_signals()
        await session.close()
        await printing
        if terminal is not None:
            terminal.close()
    return status
