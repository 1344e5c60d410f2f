"""One run of one stack, as both front ends (headless, console) drive it.

A :class:`StackSession` builds what a run needs (the event bus, the records on disk, the
master) and owns what process signals mean, so the front ends only show events and ask for a
stop or a reload. The one difference between them is the hang-up: headless keeps uWSGI's
meaning (SIGHUP reloads the mules); in the console SIGHUP means the terminal is gone, and the
session stops. With ``--exit-on-reload`` a reload stops the stack instead, as uWSGI's does:
SIGHUP (headless) and SIGTERM then end in ``uWSGI: GAME OVER (insert coin)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from enum import Enum

from muletui.config.builder import Plan
from muletui.engine import events
from muletui.engine.bus import EventBus
from muletui.engine.master import Master, StackStartError, StackState
from muletui.engine.shutdown import BRUTAL_EXIT, GRACEFUL_EXIT, PLAIN_STOP, Shutdown, killing
from muletui.hooks import run_exit_commands, run_start_commands
from muletui.recorders import EventsWriter, LogFileWriter, Recorder, RecordError

__all__ = ["HangUp", "RecordError", "StackSession"]

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)


class HangUp(Enum):
    """What SIGHUP means to a front end."""

    RELOAD = "reload the mules"  # uWSGI's meaning: headless
    QUIT = "the terminal is gone"  # the console: nobody is left to look at it


class StackSession:
    """The bus, the records and the master of one run, and its process-signal policy.

    Raises :class:`RecordError` (one line) when a record file cannot be opened; nothing has
    started then.
    """

    def __init__(
        self,
        plan: Plan,
        hangup: HangUp,
        *,
        master: Master | None = None,
        detail_events: bool = False,
        debugger: bool = False,
    ) -> None:
        """``master``: an already built master on :attr:`bus` (tests pass a scripted one);
        ``debugger``: the front end takes the mules' ``(Pdb)`` prompts (else a breakpoint is skipped
        with a warning)."""
        self.plan = plan
        self.hangup = hangup
        self.bus = master.bus if master is not None else EventBus()
        self._detail_events = detail_events
        self._debugger = debugger
        self.master = master or self._new_master()  # before any file opens
        self.records: list[Recorder] = []
        try:
            if plan.run.events_file:
                self.records.append(EventsWriter(plan.run.events_file, self._record_failed))
            if plan.run.log_file:
                self.records.append(LogFileWriter(plan.run.log_file, self._record_failed))
        except RecordError:
            self._close_records()
            raise
        for record in self.records:
            self.bus.add_sink(record)
        self.shutdown = PLAIN_STOP  # how the stop asked for goes (the first request's)
        self._stop_requested = asyncio.Event()
        self._closing: asyncio.Future[dict[str, tuple[int, int]]] | None = None
        self._watching = False
        self._config_shown = False
        self._ended_before_master = False  # a hook command failed, or a stop came while one ran

    # -- process signals -----------------------------------------------------------------

    def watch_process_signals(self) -> None:
        """SIGINT, SIGTERM and SIGQUIT ask for a stop; SIGHUP does what :attr:`hangup` says.

        With ``--exit-on-reload``, SIGTERM (uWSGI 2.0's brutal reload) stops as uWSGI then does.
        """
        loop = asyncio.get_running_loop()
        for signum in _STOP_SIGNALS:
            loop.add_signal_handler(signum, self.request_stop, "SIGINT/SIGTERM received")
        if self.plan.stack.exit_on_reload:
            loop.add_signal_handler(signal.SIGTERM, self._request, BRUTAL_EXIT)
        if self.hangup is HangUp.RELOAD:
            loop.add_signal_handler(signal.SIGHUP, self.request_reload, "SIGHUP received")
        else:
            loop.add_signal_handler(signal.SIGHUP, self.request_stop, "SIGHUP received (the terminal is gone)")
        self._watching = True

    def unwatch_process_signals(self) -> None:
        if self._watching:
            loop = asyncio.get_running_loop()
            for signum in (*_STOP_SIGNALS, signal.SIGHUP):
                loop.remove_signal_handler(signum)
            self._watching = False

    # -- requests --------------------------------------------------------------------------

    def request_stop(self, cause: str = "") -> None:
        """Ask for the stack to stop; :meth:`wait_stop_request` returns. The first request wins.

        ``cause`` is how the master's log line starts: ``SIGINT/SIGTERM received...killing workers...``.
        """
        self._request(killing(cause))

    def _request(self, shutdown: Shutdown) -> None:
        if not self._stop_requested.is_set():
            self.shutdown = shutdown
            self._stop_requested.set()

    def request_reload(self, cause: str = "") -> None:
        """Reload every mule (uWSGI's SIGHUP), if the stack is running; with ``--exit-on-reload``,
        stop instead, as uWSGI's graceful reload then does."""
        if self.plan.stack.exit_on_reload:
            self._request(GRACEFUL_EXIT)
        elif self.master.state is StackState.RUNNING and not self._stop_requested.is_set():
            self.master.reload_mules(cause)

    async def wait_stop_request(self) -> None:
        await self._stop_requested.wait()

    @property
    def stop_requested(self) -> bool:
        return self._stop_requested.is_set()

    # -- running ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the stack; a stop asked for while the app imports kills the import and returns.

        First what uWSGI does before its app: the config's ``print`` lines (once per session, as
        the master's stdout) and the ``exec-asap`` ... ``exec-pre-app`` commands
        (:mod:`muletui.hooks`); a stop asked for while one runs kills it.

        Raises :class:`~muletui.engine.master.StackStartError` when the stack cannot start.
        """
        self._show_config_output()
        starting = asyncio.ensure_future(self._start_stack())
        asked = asyncio.ensure_future(self._stop_requested.wait())
        try:
            await asyncio.wait((starting, asked), return_when=asyncio.FIRST_COMPLETED)
            if not starting.done() and self.master.state is StackState.NEW:  # a hook command runs
                self._ended_before_master = True
                starting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await starting
                return
            if not starting.done():
                await self.master.stop(self.shutdown)
            await starting
        finally:
            asked.cancel()

    async def _start_stack(self) -> None:
        try:
            await run_start_commands(self.plan.stack, self.bus.publish)
        except StackStartError:
            self._ended_before_master = True
            raise
        await self.master.start()

    def _show_config_output(self) -> None:
        """Once per session: the options' warnings, then the config's ``print`` lines."""
        if self._config_shown:
            return
        self._config_shown = True
        for warning in self.plan.warnings:
            self.bus.publish(events.StackWarning(text=warning))
        if not self.plan.config_output:
            return
        now, wall = time.monotonic(), time.time()
        lines = tuple(events.OutputLine(now, wall, line) for text in self.plan.config_output for line in text.split("\n"))
        self.bus.publish(events.OutputLines(mule_id=0, stream="out", lines=lines, t=now))

    async def restart(self) -> None:
        """Stop the stack, then start a new one on the same bus and records: a fresh stack root
        imports the app again (what ``R`` cannot do: a mule reload keeps the imported app)."""
        await self.master.stop(killing("restart from scratch requested"))
        await run_exit_commands(self.plan.stack, self.bus.publish)
        self.master = self._new_master()
        self._ended_before_master = False
        await self.start()

    def _new_master(self) -> Master:
        master = Master(self.plan.stack, self.bus, detail_events=self._detail_events)
        master.debugger = self._debugger
        return master

    async def close(self) -> dict[str, tuple[int, int]]:
        """Stop the stack (if it runs), end the bus, close the records; what was left queued.

        However many callers ask (a key, a signal, a lost terminal), it runs once, and every
        caller waits for that one to end.
        """
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._close())
        return await asyncio.shield(self._closing)

    async def _close(self) -> dict[str, tuple[int, int]]:
        left: dict[str, tuple[int, int]] = {}
        if not self._ended_before_master:  # as uWSGI, which exits there: nothing ran to stop
            left = await self.master.stop(self.shutdown)
            await run_exit_commands(self.plan.stack, self.bus.publish)
        self.bus.close()
        self._close_records()
        return left

    # -- records ---------------------------------------------------------------------------

    def _record_failed(self, text: str) -> None:
        self.bus.publish(events.StackWarning(text=text))

    def _close_records(self) -> None:
        for record in self.records:
            record.close()
