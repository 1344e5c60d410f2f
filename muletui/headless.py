"""The headless runner: the same master as the console, with a plain prefixed log on stdout.

Line format: ``HH:MM:SS.mmm SOURCE | text`` for stdout lines and master log lines,
``HH:MM:SS.mmm SOURCE ! text`` for a process's stderr (which is where uWSGI's own lines from
mules go). ``SOURCE`` is ``master`` or ``mule N``. Colours only when stdout is a terminal.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from typing import TextIO

from muletui.config.builder import Plan
from muletui.engine import events
from muletui.engine.bus import EventBus, Subscription
from muletui.engine.master import Master, StackStartError, StackState
from muletui.recorders import EventsWriter, LogFileWriter, source_name

_COLOURS = (36, 33, 32, 35, 34, 91, 92, 93, 94, 95, 96)


class Printer:
    """Writes events as lines; one instance per output stream."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._colour = out.isatty()

    def _prefix(self, wall: float, mule_id: int, mark: str) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(wall)) + f".{int(wall % 1 * 1000):03d}"
        name = source_name(mule_id).ljust(8)
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
                    parts.append(self._prefix(line.wall, event.mule_id, mark) + line.text + "\n")
            elif isinstance(event, events.MasterLog):
                parts.append(self._prefix(event.wall, 0, "|") + event.text + "\n")
            elif isinstance(event, events.StackWarning):
                parts.append(self._prefix(event.wall, 0, "!") + "muletui warning: " + event.text + "\n")
        if parts:
            self._out.write("".join(parts))
            self._out.flush()

    def notice(self, text: str) -> None:
        self._out.write(self._prefix(time.time(), 0, "!") + text + "\n")
        self._out.flush()


async def _print_forever(subscription: Subscription, printer: Printer) -> None:
    reported = 0
    while batch := await subscription.batch():
        printer.write(batch)
        if subscription.dropped > reported:
            printer.notice(f"muletui: {subscription.dropped - reported} events dropped by a slow stdout")
            reported = subscription.dropped


async def run_headless(plan: Plan, out: TextIO = sys.stdout) -> int:
    """Run the stack until a signal, ``--duration`` or a fatal failure; the exit status."""
    bus = EventBus()
    recorders: list[EventsWriter | LogFileWriter] = []
    if plan.run.events_file:
        recorders.append(EventsWriter(plan.run.events_file))
    if plan.run.log_file:
        recorders.append(LogFileWriter(plan.run.log_file))
    for recorder in recorders:
        bus.add_sink(recorder)
    printer = Printer(out)
    for warning in plan.warnings:
        printer.notice(f"muletui warning: {warning}")
    subscription = bus.subscribe(kinds=(events.OutputLines, events.MasterLog, events.StackWarning))
    printing = asyncio.create_task(_print_forever(subscription, printer))
    master = Master(plan.stack, bus, detail_events=bool(plan.run.events_file))
    stop_requested = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_stop_signal() -> None:
        master.bus.publish(events.MasterLog(text="SIGINT/SIGTERM received...killing workers..."))
        stop_requested.set()

    def on_reload_signal() -> None:
        master.bus.publish(events.MasterLog(text="SIGHUP received: reloading mules..."))
        master.reload_mules()

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT):
        loop.add_signal_handler(signum, on_stop_signal)
    loop.add_signal_handler(signal.SIGHUP, on_reload_signal)
    status = 0
    try:
        try:
            await master.start()
        except StackStartError as error:
            printer.notice(f"muletui: {error}")
            status = 1
        else:
            waiters = [asyncio.ensure_future(stop_requested.wait()), asyncio.ensure_future(master.wait_stopped())]
            await asyncio.wait(waiters, timeout=plan.run.duration, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()
            failed = master.state is StackState.FAILED
            await master.stop()
            status = 1 if failed else 0
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT, signal.SIGHUP):
            loop.remove_signal_handler(signum)
        bus.close()
        await printing
        for recorder in recorders:
            recorder.close()
    return status
