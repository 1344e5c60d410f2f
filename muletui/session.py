"""One run of one stack, as both front ends (headless, console) drive it.

A :class:`StackSession` builds what a run needs (the event bus, the records on disk, the
master) and owns what process signals mean, so the front ends only show events and ask for a
stop or a reload. The one difference between them is the hang-up: headless keeps uWSGI's
meaning (SIGHUP reloads the mules); in the console SIGHUP means the terminal is gone, and the
session stops. With ``--exit-on-reload`` a reload stops the stack instead, as uWSGI's does:
SIGHUP (headless) and SIGTERM then end in ``uWSGI: GAME OVER (insert coin)``.

The session also reloads the stack by itself, for both front ends: when a ``--touch-reload``
file is touched, when a module the app loaded is saved (``--py-autoreload``), and, with
``reload_on_save`` (the console), when the app or a module it loaded is saved; a saved mule
script then restarts its mules only (:mod:`muletui.engine.reloader`). A reload is uWSGI's
graceful one (``...gracefully killing workers...``, SIGHUP to the mules), then a new stack
whose root imports the app again; a new stack that loads no app runs without it, as uWSGI's
re-executed master does (``--need-app`` ends it, status 22). :meth:`wait_ended` follows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable, Coroutine
from enum import Enum
from typing import TYPE_CHECKING

from muletui.config.builder import Plan
from muletui.engine import events
from muletui.engine.bus import EventBus
from muletui.engine.master import Master, StackStartError, StackState
from muletui.engine.shutdown import BRUTAL_EXIT, GRACEFUL_EXIT, PLAIN_STOP, Shutdown, killing
from muletui.hooks import run_exit_commands, run_start_commands
from muletui.record import record
from muletui.recorders import EventsWriter, LogFileWriter, Recorder, RecordError

if TYPE_CHECKING:
    from muletui.engine.reloader import Reloader, Request

__all__ = ["HangUp", "RecordError", "StackReloads", "StackSession"]

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)
#: uWSGI's graceful reload (SIGHUP to its master), up to where uWSGI re-executes itself (``binary
#: reloading uWSGI...``); muletui's master stays, and starts a new stack root instead.
RELOAD = Shutdown(
    "...gracefully killing workers...", signal.SIGHUP, "muletui: reloading the stack: a new stack root imports the app again"
)


class HangUp(Enum):
    """What SIGHUP means to a front end."""

    RELOAD = "reload the mules"  # uWSGI's meaning: headless
    QUIT = "the terminal is gone"  # the console: nobody is left to look at it


@record
class StackReloads:
    """How a front end hears of the reloads the session makes by itself (a saved file,
    ``--touch-reload``, ``--py-autoreload``); :meth:`StackSession.restart` is not one of them."""

    started: Callable[[str], None]  # why: the line the master logged for it
    ended: Callable[[StackStartError | None], None]  # None: the new stack runs


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
        reload_on_save: bool = False,
        reloads: StackReloads | None = None,
    ) -> None:
        """``master``: an already built master on :attr:`bus` (tests pass a scripted one);
        ``debugger``: the front end takes the mules' ``(Pdb)`` prompts (else a breakpoint is skipped
        with a warning); ``reload_on_save``: saving a mule script restarts its mules, saving the
        app or a module it loaded reloads the stack; ``reloads``: told of each such reload."""
        self.plan = plan
        self.hangup = hangup
        self.bus = master.bus if master is not None else EventBus()
        self._detail_events = detail_events
        self._debugger = debugger
        self._reload_on_save = reload_on_save
        self._reloads = reloads
        self.master = master or self._new_master()  # before any file opens
        self.master.reload_stack = self._touch_reload
        self.records: list[Recorder] = []
        try:
            if plan.run.events_file:
                self.records.append(EventsWriter(plan.run.events_file, self._warn))
            if plan.run.log_file:
                self.records.append(LogFileWriter(plan.run.log_file, self._warn))
        except RecordError:
            self._close_records()
            raise
        for sink in self.records:
            self.bus.add_sink(sink)
        self.shutdown = PLAIN_STOP  # how the stop asked for goes (the first request's)
        self._stop_requested = asyncio.Event()
        self._halted = asyncio.Event()  # a stop asked for, or closing: no stack starts any more
        self._reloader: Reloader | None = None
        self._seen_app_files: dict[str, str] = {}  # reload on save: every app file loaded in this session
        self._uwsgi_watched: frozenset[str] = frozenset()  # what --py-autoreload watches in this stack
        self._replaced = asyncio.Event()  # no reload or restart is replacing the stack
        self._replaced.set()
        self._reload_again = ""  # why a reload was asked for while the stack was being replaced
        self._reload_task: asyncio.Task[None] | None = None
        self._reload_failure: StackStartError | None = None
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
            self._halted.set()

    def request_reload(self, cause: str = "") -> None:
        """Reload every worker and mule (uWSGI's SIGHUP), if the stack is running; with
        ``--exit-on-reload``, stop instead, as uWSGI's graceful reload then does."""
        if self.plan.stack.exit_on_reload:
            self._request(GRACEFUL_EXIT)
        elif self.master.state is StackState.RUNNING and not self._stop_requested.is_set():
            self.master.reload_workers()
            self.master.reload_mules(cause)

    async def wait_stop_request(self) -> None:
        await self._stop_requested.wait()

    async def wait_ended(self) -> None:
        """Until a stop is asked for or the stack ends by itself; a reload the session makes is
        followed to the new stack.

        Raises :class:`~muletui.engine.master.StackStartError` when a reload's new stack could
        not start (uWSGI's re-executed master exits then).
        """
        while not self._stop_requested.is_set():
            if self._reload_failure is not None:
                raise self._reload_failure
            if not self._replaced.is_set():
                await _first(self._replaced.wait(), self._stop_requested.wait())
            else:
                master = self.master
                await _first(master.wait_stopped(), self._stop_requested.wait())
                if master is self.master and self._replaced.is_set():
                    return

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
        await self._start()
        self._stack_up()

    async def _start(self) -> None:
        self._show_config_output()
        starting = asyncio.ensure_future(self._start_stack())
        asked = asyncio.ensure_future(self._halted.wait())
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
        imports the app again (what ``R`` cannot do: a mule reload keeps the imported app). A
        reload under way ends first."""
        while not self._replaced.is_set():
            await self._replaced.wait()
        self._replaced.clear()
        try:
            await self._replace(killing("restart from scratch requested"), exit_commands=True)
        finally:
            self._replacement_over()

    async def _replace(self, shutdown: Shutdown, *, exit_commands: bool) -> None:
        """Stop the stack as ``shutdown`` says, then start a new one (unless a stop was asked for
        meanwhile). Raises :class:`StackStartError` when the new one cannot start."""
        await self.master.stop(shutdown)
        if self._halted.is_set():
            return
        if exit_commands:
            await run_exit_commands(self.plan.stack, self.bus.publish)
        self.master = self._new_master()
        self._ended_before_master = False
        await self._start()
        if shutdown is RELOAD and self.master.state is StackState.RUNNING:
            self._log(f"gracefully (RE)spawned uWSGI master process (pid: {os.getpid()})")
        self._stack_up()

    def _replacement_over(self) -> None:
        """The stack is replaced: a reload asked for meanwhile runs now."""
        self._replaced.set()
        again, self._reload_again = self._reload_again, ""
        if again:
            self._reload_stack(again)

    def _new_master(self) -> Master:
        master = Master(self.plan.stack, self.bus, detail_events=self._detail_events)
        master.debugger = self._debugger
        master.reload_stack = self._touch_reload
        return master

    # -- reloads the session makes ----------------------------------------------------------

    def _stack_up(self) -> None:
        """A stack started: the auto-reloader's line (uWSGI's worker 1 logs it at every start),
        and the files this stack loaded are watched from now on."""
        if self.master.state is not StackState.RUNNING:
            return
        config = self.plan.stack
        if config.py_autoreload:
            self._log("Python auto-reloader enabled")
        if not (config.py_autoreload or self._reload_on_save):
            return  # as uWSGI: nothing is watched
        from muletui.engine.reloader import (  # noqa: PLC0415 - only a stack that watches loads it
            Reloader,
            Watched,
            app_files,
            mule_scripts,
            stack_files,
        )

        modules = stack_files(self.master.module_files, config.py_autoreload_ignore)
        self._uwsgi_watched = frozenset(modules) if config.py_autoreload else frozenset()
        if self._reload_on_save:
            # Kept across reloads: a module whose import failed is out of sys.modules, and
            # saving its fix must reload again (uWSGI's reloader loses it, see the README).
            self._seen_app_files |= app_files(config.app, config.chdir) | modules
            watched = Watched(dict(self._seen_app_files), mule_scripts(config.mules, config.chdir))
        else:
            watched = Watched(modules)
        if self._reloader is None:
            self._reloader = Reloader(self._on_saved, self._warn)
        self._reloader.watch(watched)

    def _on_saved(self, request: Request) -> None:
        """One batch of saves: the master's line for it, then the restart or the reload."""
        if self._halted.is_set():
            return
        from muletui.engine.reloader import ReloadStack  # noqa: PLC0415 - loaded with the reloader

        if isinstance(request, ReloadStack):
            if request.path in self._uwsgi_watched:
                self._log(f"[uwsgi-python-reloader] module/file {request.file} has been modified")
                self._reload_stack("a module was modified", uwsgi=True)
            else:
                self._log(f"muletui: {request.file} saved: reloading the stack (the app is imported again)")
                self._reload_stack(f"{request.file} saved")
        elif self._replaced.is_set() and self.master.state is StackState.RUNNING:
            many = "s" * (len(request.mule_ids) > 1)
            ids = ", ".join(str(mule_id) for mule_id in request.mule_ids)
            self._log(f"muletui: {', '.join(request.scripts)} saved: restarting mule{many} {ids}")
            for mule_id in request.mule_ids:
                self.master.restart_mule(mule_id)

    def _touch_reload(self) -> None:
        """A ``--touch-reload`` file was touched (the master logged it)."""
        self._reload_stack("a --touch-reload file was touched", uwsgi=True)

    def _reload_stack(self, why: str, *, uwsgi: bool = False) -> None:
        """Reload the whole stack; with ``--exit-on-reload``, a reload of uWSGI's (``uwsgi``)
        stops it instead, as uWSGI's does. Asked for while the stack is being replaced, it runs
        once that is over."""
        if self._halted.is_set():
            return
        if uwsgi and self.plan.stack.exit_on_reload:
            self._request(GRACEFUL_EXIT)
        elif not self._replaced.is_set():
            self._reload_again = why
        else:
            self._replaced.clear()
            self._reload_task = asyncio.ensure_future(self._reload(why))

    async def _reload(self, why: str) -> None:
        error: StackStartError | None = None
        if self._reloads is not None:
            self._reloads.started(why)
        try:
            await self._replace(RELOAD, exit_commands=False)
        except StackStartError as failure:
            error = failure
        finally:
            self._reload_failure = error
            if self._reloads is not None:
                self._reloads.ended(error)
            self._replacement_over()

    async def close(self) -> dict[str, tuple[int, int]]:
        """Stop the stack (if it runs), end the bus, close the records; what was left queued.

        However many callers ask (a key, a signal, a lost terminal), it runs once, and every
        caller waits for that one to end.
        """
        if self._closing is None:
            self._halted.set()
            self._closing = asyncio.ensure_future(self._close())
        return await asyncio.shield(self._closing)

    async def _close(self) -> dict[str, tuple[int, int]]:
        left: dict[str, tuple[int, int]] = {}
        if self._reloader is not None:
            await self._reloader.close()
        if self._reload_task is not None:
            await self._reload_task  # ends soon: no new stack starts once halted
        if not self._ended_before_master:  # as uWSGI, which exits there: nothing ran to stop
            left = await self.master.stop(self.shutdown)
            await run_exit_commands(self.plan.stack, self.bus.publish)
        self.bus.close()
        self._close_records()
        return left

    # -- records and lines -------------------------------------------------------------------

    def _log(self, text: str) -> None:
        self.bus.publish(events.MasterLog(text=text))

    def _warn(self, text: str) -> None:
        self.bus.publish(events.StackWarning(text=text))

    def _close_records(self) -> None:
        for sink in self.records:
            sink.close()


async def _first(*waits: Coroutine[object, object, object]) -> None:
    """Until the first of ``waits`` is done; the others are cancelled."""
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
