"""The master: owns the stack's resources (channels, the stack root, timers, output pipes), carries
out the lifecycle's decisions (:mod:`muletui.engine.lifecycle`) and publishes every event.

Lives in one asyncio event loop (the console's or the headless runner's) and never forks: the
stack root forks mules and workers for it. The workers' listening sockets are bound here, before
anything forks (:mod:`muletui.engine.listeners`). It is never on the data path of ``mule_msg``; it only reads the
stats block, the report socket and the processes' output.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
import time
from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING

from muletui.config.stack_config import StackConfig
from muletui.engine import events
from muletui.engine.agents import MuleAgents
from muletui.engine.bus import EventBus
from muletui.engine.channels import Channels
from muletui.engine.lifecycle import (
    CancelRetry,
    Effect,
    Lifecycle,
    Publish,
    RespawnPolicy,
    RetryIn,
    Signal,
    Slot,
    Spawn,
)
from muletui.engine.listeners import BindError, Listeners
from muletui.engine.output import PipeReader, paired
from muletui.engine.reports import DatagramReader, report_event
from muletui.engine.root_process import ModuleFile, RootCallbacks, RootProcess
from muletui.engine.shutdown import GOODBYE, PLAIN_STOP, Shutdown, killing
from muletui.engine.signalling import SignalService
from muletui.engine.watchdog import Watchdog, WatchdogActions
from muletui.ipc import reports
from muletui.ipc.spec import TABLE_LOCK_OFFSET, StackSpec
from muletui.ipc.stats_block import Field, HeaderFlag, StatsBlock, queue_count

if TYPE_CHECKING:
    from muletui.engine.cron_commands import CronCommands
    from muletui.engine.snapshot import StackSnapshot
    from muletui.engine.stats_server import StatsServer

MASTER_SENDER = -1  # sender id of messages sent from the master side (console, tests)
RELOAD_MERCY = 60.0  # uWSGI's --mule-reload-mercy default: a reloading mule's grace
KILLED_WAIT = 2.0  # how long a stop waits for the news of mules it SIGKILLed


class StackState(StrEnum):
    NEW = "new"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"


class StackStartError(Exception):
    """The stack could not start; ``str()`` is the one-line reason, ``status`` muletui's exit status."""

    def __init__(self, reason: str, status: int = 1) -> None:
        super().__init__(reason)
        self.status = status


class Master:
    """Runs one stack. ``start()``, then ``stop()``; actions in between drive single mules.

    ``shutdown_grace`` is muletui's quick stop: how long :meth:`stop` gives the mules when
    ``--mule-reload-mercy`` was not given (uWSGI would give them its 60 s mercy).
    """

    def __init__(
        self,
        config: StackConfig,
        bus: EventBus | None = None,
        *,
        respawn: RespawnPolicy | None = None,
        shutdown_grace: float = 3.0,
        detail_events: bool = False,
    ) -> None:
        self.config = config
        self.bus = bus or EventBus()
        self.shutdown_grace = shutdown_grace
        self._detail_events = detail_events
        self.state = StackState.NEW
        self.mules = {spec.mule_id: Slot("mule", spec.mule_id) for spec in config.mules}
        self.workers = {number: Slot("worker", number) for number in range(1, config.workers + 1)}
        self.listeners = Listeners()
        self.lifecycle = Lifecycle(respawn or RespawnPolicy(), self.reload_mercy)
        self.root_pid = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._channels: Channels | None = None
        self._stats: StatsBlock | None = None
        self._root: RootProcess | None = None
        self._reports: DatagramReader | None = None
        self._stats_server: StatsServer | None = None  # --stats
        self.signals: SignalService | None = None
        self._watchdog: Watchdog | None = None
        self._crons: CronCommands | None = None
        self._lock_fd = -1
        self._ready: asyncio.Future[None] | None = None
        self._timers: dict[Slot, asyncio.TimerHandle] = {}
        self._open_streams = 0
        self._streams_closed = asyncio.Event()
        self._pipes: dict[Slot | None, tuple[PipeReader, PipeReader]] = {}  # stdout, stderr per process (None: root)
        self._children_gone = asyncio.Event()
        self._ended = asyncio.Event()  # stopped or failed: nothing runs any more
        self._finished = False
        self._left: dict[str, tuple[int, int]] = {}  # what the stop found queued
        self.agents = MuleAgents(self._publish)  # live stacks, evaluation, debugger prompts
        self.debugger = False  # a front end takes the mules' (Pdb) prompts (set before start)
        self.reload_stack: Callable[[], None] = lambda: None  # the session's full reload, for --touch-reload (set before start)

    # -- start ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind the sockets, start the stack root, import the app there, fork every worker and
        every mule.

        Raises :class:`StackStartError` (after cleaning up) if a socket cannot be bound or the
        app cannot be imported.
        """
        self._loop = asyncio.get_running_loop()
        self.state = StackState.STARTING
        config = self.config
        self._publish(events.StackStarting(mules=len(self.mules), farms=tuple(f.name for f in config.farms)))
        if config.debug_on_crash and not self.debugger:
            self._warn("--debug-on-crash needs the console or a terminal on stdin")
        try:
            for line in self.listeners.bind(config.sockets, config.listen, config.socket_timeout, config.defer_accept):
                self._log(line)
            if config.stats:
                from muletui.engine.stats_feed import serve_stats  # noqa: PLC0415 - only a stack with --stats carries it

                self._stats_server = await serve_stats(self)
        except BindError as error:
            self.listeners.close()
            self.state = StackState.FAILED
            self._publish(events.StackFailed(reason=str(error)))
            self._finished = True
            self._ended.set()
            raise StackStartError(str(error)) from None
        for farm in config.farms:
            members = ",".join(str(m) for m in farm.members)
            self._log(f"created farm {farm.index} name: {farm.name} mules:{members}")
        channels = self._channels = Channels(
            list(self.mules), config.farms, config.mule_msg_size, config.signal_bufsize, len(self.workers)
        )
        slots = 1 + len(self.mules) + len(self.workers)
        self._stats = StatsBlock.create(slots, config.locks + 1, queue_count(len(self.mules), len(config.farms)))
        self._stats.set_flag(HeaderFlag.DETAIL_EVENTS, int(self._detail_events))  # before the app runs
        self._lock_fd = os.memfd_create("muletui-locks", 0)
        os.ftruncate(self._lock_fd, TABLE_LOCK_OFFSET + 1)
        self.signals = SignalService(
            channels, config.farms, self._publish, self._log, self._warn,
            live_workers=lambda: [w.number for w in self.workers.values() if w.pid],
        )  # fmt: skip
        self._reports = DatagramReader(channels.report.recv, self._on_report)
        spec = StackSpec(
            mules=tuple(config.mules),
            farms=tuple(config.farms),
            mule_queues={i: q.fds for i, q in channels.mules.items()},
            shared_queue=channels.shared.fds,
            farm_queues={i: q.fds for i, q in channels.farms.items()},
            mule_signals={i: q.fds for i, q in channels.mule_signals.items()},
            shared_signal=channels.shared_signal.fds,
            farm_signals={i: q.fds for i, q in channels.farm_signals.items()},
            raise_fd=channels.raised.send.fileno(),
            report_fd=channels.report.send.fileno(),
            stats_fd=self._stats.fd,
            lock_fd=self._lock_fd,
            locks=config.locks,
            mule_harakiri=config.mule_harakiri,
            masterpid=os.getpid(),
            started_on=int(time.time()),
            numproc=config.numproc,
            opt=config.opt,
            app=tuple(config.app),
            pythonpath=tuple(config.pythonpath),
            debugger=self.debugger,
            debug_on_crash=config.debug_on_crash,
            workers=len(self.workers),
            worker_signals={i: q.fds for i, q in channels.worker_signals.items()},
            shared_worker_signal=channels.shared_worker_signal.fds,
            listeners=self.listeners.inherited(),
        )
        self._ready = self._loop.create_future()
        self._root = RootProcess(
            spec,
            [self._stats.fd, self._lock_fd, *channels.inherited_fds(), *(fd for _p, fd in spec.listeners)],
            RootCallbacks(self._on_ready, self._on_app_failed, self._on_spawned, self._on_exited, self._on_root_exit),
            cwd=config.chdir,
            env=config.environment(),
        )
        self._pipes[None] = paired(self._capture(None, "out", self._root.stdout_fd), self._capture(None, "err", self._root.stderr_fd))
        try:
            await self._ready
        except StackStartError as error:
            self.state = StackState.FAILED
            self._publish(events.StackFailed(reason=str(error)))
            await self._finish(farewell="")  # uWSGI says goodbye only to a stack that ran
            raise
        if self.state is StackState.STOPPING:  # stop() came while the app was importing
            return
        self.state = StackState.RUNNING
        self._start_schedules()
        if self.workers:
            self._log(f"your server socket listen backlog is limited to {config.listen} connections")
        for slot in self._slots():  # workers first, as uWSGI forks them before its mules
            self._apply(self.lifecycle.spawn(slot))
        if self._stats_server is not None:
            self._log(f"*** Stats server enabled on {config.stats} fd: {self._stats_server.fileno} ***")

    def _slots(self) -> list[Slot]:
        """Every process slot: the workers, then the mules."""
        return [*self.workers.values(), *self.mules.values()]

    def _start_schedules(self) -> None:
        """The command line's timers, monitors and command crons, and the once-a-second watchdog."""
        assert self.signals is not None and self._stats is not None
        config = self.config
        if config.crons:  # a stack without crons need not carry them (nor the shell runner)
            from muletui.engine.cron_commands import CronCommands  # noqa: PLC0415 - as the comment says

            self._crons = CronCommands(
                config.crons, self.signals.timers, config.environment(), config.chdir, self._publish, self._log, self._warn
            )
        for signum, seconds in config.timers:
            self.signals.add_timer(signum, seconds)
        for signum, seconds in config.rb_timers:
            self.signals.add_rb_timer(signum, seconds, 0)
        for path, signum in config.fs_signals:
            self.signals.add_file_monitor(signum, path, announce=True)
        actions = WatchdogActions(
            running_pids=lambda: {m.number: m.pid for m in self.mules.values() if m.pid},
            kill=self.kill_mule,
            reload_mules=self.reload_mules,
            reload_stack=self.reload_stack,
            log=self._log,
            agents=self.agents,
        )
        self._watchdog = Watchdog(self._stats, config.touch_mules_reload, actions, config.touch_reload)

    def _on_report(self, data: bytes) -> None:
        """One report from a stack process: an event, or work for the signal service."""
        try:
            report = reports.decode(data)
        except (ValueError, EOFError, TypeError):
            self._warn("a stack process sent a malformed report")
            return
        for one in report[1:] if report[0] == reports.BATCH else (report,):
            event = report_event(one, len(self.mules))
            if event is not None:
                self._publish(event)
            elif self.signals is not None:
                self.signals.on_report(one)

    def raise_signal(self, signum: int, source: str = "console") -> None:
        """Raise a uWSGI signal from the master side, routed like any other."""
        assert self.signals is not None
        self.signals.raise_signal(signum, source)

    def _on_ready(self, root_pid: int) -> None:
        self.root_pid = root_pid
        if self._reports is not None:
            self._reports.drain(limit=1 << 30)  # registrations made at import come first
        self._publish(events.StackReady(root_pid=root_pid))
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(None)

    def _on_app_failed(self, reason: str) -> None:
        """The stack root loaded no app (it printed why; ``reason`` sums it up). As uWSGI's master
        then: with ``--need-app`` the stack stops, with uWSGI's status 22 (UWSGI_FAILED_APP_CODE);
        else it runs without the app, saying so when one was asked for."""
        for reader in self._pipes.get(None, ()):
            reader.drain()  # the root's traceback and lines come before the verdict
        if self.config.need_app:
            self._log("*** no app loaded. GAME OVER ***")
            if self._ready is not None and not self._ready.done():
                self._ready.set_exception(StackStartError(f"{reason}, and --need-app is set", status=22))
        elif any(kind != "import" for kind, _value in self.config.app):
            self._log("*** no app loaded. going in full dynamic mode ***")

    def _on_root_exit(self, code: int) -> None:
        self._last_words(None)
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(StackStartError(f"the stack root exited at start ({_status_text(code)})"))
            return
        if self.state is StackState.RUNNING:
            self.state = StackState.FAILED
            reason = f"the stack root died ({_status_text(code)}); its mules died with it"
            self._publish(events.StackFailed(reason=reason))
            self._log(reason)
            self._apply(self.lifecycle.root_died(self._slots()))
            self._ended.set()

    # -- spawning and exits ----------------------------------------------------------------

    def _capture(self, slot: Slot | None, stream: str, fd: int) -> PipeReader:
        """Read one output stream of ``slot``'s incarnation (``None``: the stack root)."""
        self._open_streams += 1
        self._streams_closed.clear()
        mule_id = slot.number if slot is not None and slot.kind == "mule" else 0
        worker_id = slot.number if slot is not None and slot.kind == "worker" else 0

        def on_lines(lines: tuple[events.OutputLine, ...]) -> None:
            self._publish(events.OutputLines(mule_id=mule_id, stream=stream, lines=lines, t=lines[0].t, worker_id=worker_id))

        def on_eof() -> None:
            self._open_streams -= 1
            if not self._open_streams:
                self._streams_closed.set()

        return PipeReader(fd, on_lines, on_eof)

    def _last_words(self, process: Slot | None) -> None:
        """Publish what a process that just exited (``None``: the stack root) wrote before it did:
        its lines then come before the news of its exit, in every consumer."""
        for reader in self._pipes.pop(process, ()):
            reader.drain()

    def _apply(self, effects: list[Effect]) -> None:
        """Carry out the lifecycle's effects, in order, with the master's resources."""
        for effect in effects:
            match effect:
                case Publish(event):
                    self._publish(event)
                case Spawn(slot):
                    self._fork(slot)
                case Signal():
                    self._signal(effect)
                case RetryIn(slot, seconds):
                    assert self._loop is not None
                    self._timers[slot] = self._loop.call_later(seconds, self._retry, slot)
                case CancelRetry(slot):
                    timer = self._timers.pop(slot, None)
                    if timer is not None:
                        timer.cancel()

    def _stats_slot(self, slot: Slot) -> int:
        """``slot``'s record in the stats block: mule N is N, worker W comes after the mules."""
        return slot.number if slot.kind == "mule" else len(self.mules) + slot.number

    def _fork(self, slot: Slot) -> None:
        """Ask the root for the slot's next incarnation, with fresh output pipes (and, a mule, agent)."""
        assert self._root is not None
        if self._stats is not None:  # what a dead incarnation left must not hit the next one
            for field in (Field.HARAKIRI_AT, Field.USER_HARAKIRI_AT, Field.ACTIVITY, Field.LOCKS_HELD):
                self._stats.set(self._stats_slot(slot), field, 0)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        agent = self.agents.open(slot.number) if slot.kind == "mule" else None
        try:
            self._root.fork(slot.kind, slot.number, [out_w, err_w, *([agent.fileno()] if agent else [])])
        finally:
            os.close(out_w)
            os.close(err_w)
            if agent is not None:
                agent.close()
        self._pipes[slot] = paired(self._capture(slot, "out", out_r), self._capture(slot, "err", err_r))

    def _signal(self, order: Signal) -> None:
        """Signal the incarnation through the root; ask the lifecycle again once its mercy is over."""
        assert self._root is not None and self._loop is not None
        self._root.signal(order.pid, order.signum)
        if order.mercy is not None:
            self._loop.call_later(order.mercy, self._mercy_over, order.slot, order.pid)

    def _mercy_over(self, slot: Slot, pid: int) -> None:
        if not self._finished:
            self._apply(self.lifecycle.outlived_mercy(slot, pid))

    def _retry(self, slot: Slot) -> None:
        del self._timers[slot]
        self._apply(self.lifecycle.retry_due(slot))

    def _slot(self, kind: str, number: int) -> Slot:
        return self.workers[number] if kind == "worker" else self.mules[number]

    def _on_spawned(self, kind: str, number: int, pid: int) -> None:
        self._children_gone.clear()
        self._apply(self.lifecycle.spawned(self._slot(kind, number), pid))

    def _on_exited(self, kind: str, number: int, pid: int, status: int) -> None:
        slot = self._slot(kind, number)
        self._last_words(slot)
        if kind == "mule":
            self.agents.close(number)
        effects = self.lifecycle.exited(slot, pid, status)
        if not any(s.pid for s in self._slots()):
            self._children_gone.set()
        self._apply(effects)

    # -- operator actions ------------------------------------------------------------------

    def _mule(self, mule_id: int) -> Slot:
        mule = self.mules.get(mule_id)
        if mule is None:
            raise KeyError(f"there is no mule {mule_id} (mules are 1..{len(self.mules)})")
        return mule

    @property
    def reload_mercy(self) -> float:
        """A reloading (or stopped, or restarted) mule's grace: ``--mule-reload-mercy``, else uWSGI's 60 s."""
        return RELOAD_MERCY if self.config.reload_mercy is None else self.config.reload_mercy

    @property
    def stop_mercy(self) -> float:
        """The mules' grace when the stack stops: ``--mule-reload-mercy`` as uWSGI, else muletui's quick
        :attr:`shutdown_grace`."""
        return self.shutdown_grace if self.config.reload_mercy is None else self.config.reload_mercy

    def stop_mule(self, mule_id: int) -> None:
        """Stop a mule gracefully (SIGHUP, then SIGKILL after the reload mercy); it stays down."""
        self._apply(self.lifecycle.stop(self._mule(mule_id)))

    def restart_mule(self, mule_id: int) -> None:
        """Restart a mule gracefully, or start it now if it is down or backing off."""
        self._apply(self.lifecycle.restart(self._mule(mule_id)))

    def kill_mule(self, mule_id: int) -> None:
        """SIGKILL a mule, as ``kill -9`` would: the master sees a crash and respawns it."""
        self._apply(self.lifecycle.kill(self._mule(mule_id)))

    def reload_mules(self, cause: str = "") -> None:
        """uWSGI's mule reload: SIGHUP to every mule, respawn each as it exits, no OOOPS.

        ``cause`` (e.g. ``SIGHUP received``) is logged first: ``SIGHUP received: reloading mules...``.
        """
        self._apply(self.lifecycle.reload(self.mules.values(), cause))

    def reload_workers(self) -> None:
        """Restart every worker gracefully: each finishes its request (``Gracefully killing worker
        N (pid: P)...``, ``worker N buried after S seconds``) and is forked again from the stack
        root, the app not imported again (uWSGI's SIGHUP re-executes its whole instance)."""
        self._apply(self.lifecycle.reload(self.workers.values()))

    # -- messages from the master side -----------------------------------------------------

    def set_detail_events(self, enabled: bool) -> None:
        """Ask every stack process to report each message sent and received (rate-limited)."""
        assert self._stats is not None
        self._stats.set_flag(HeaderFlag.DETAIL_EVENTS, int(enabled))

    def send_message(self, data: bytes, target: int | str | None = None) -> str:
        """Queue ``data`` like ``uwsgi.mule_msg``: ``None``/0 shared, N mule N, str a farm.

        Returns the fate: ``queued``, ``queue full``, ``too large``, ``bad mule id`` or
        ``unknown farm``; every outcome is also published as an event.
        """
        assert self._channels is not None
        assert self._stats is not None
        number = 0  # the queue's number in the stats block's queue counters
        if target is None or target == 0:
            queue, shown = self._channels.shared, 0
        elif isinstance(target, int):
            queue, shown, number = self._channels.mules.get(target), target, target  # type: ignore[assignment]
        else:
            farm = next((f for f in self.config.farms if f.name == target), None)
            queue, shown = (self._channels.farms[farm.index] if farm else None), target  # type: ignore[assignment]
            number = len(self.mules) + farm.index if farm else 0
        if queue is None:
            fate = "unknown farm" if isinstance(target, str) else "bad mule id"
        else:
            try:
                queue.send.send(data)
            except BlockingIOError:
                fate = "queue full"
            except OSError as error:
                fate = "too large" if error.errno == errno.EMSGSIZE else str(error)
            else:
                self._stats.words[self._stats.sent_offset(self._stats.slots, number)] += 1
                self._publish(events.MessageSent(sender=MASTER_SENDER, target=shown, size=len(data), preview=reports.preview_text(data)))
                return "queued"
        self._publish(events.MessageDropped(sender=MASTER_SENDER, target=shown, size=len(data), reason=fate))
        return fate

    @property
    def module_files(self) -> list[ModuleFile]:
        """The user's modules the stack root had loaded once the app was imported."""
        return self._root.module_files if self._root is not None else []

    def snapshot(self) -> StackSnapshot:
        """Every mule's state and counters, the locks and the farms, as of now."""
        from muletui.engine.snapshot import take_snapshot  # noqa: PLC0415 - the console's, not headless's

        assert self._stats is not None and self._channels is not None
        return take_snapshot(
            self.mules, self.config.mules, self._stats, self._channels, self.config.farms, self.config.locks, self.workers
        )

    # -- shutdown --------------------------------------------------------------------------

    async def wait_stopped(self) -> None:
        """Until the stack stopped (by :meth:`stop`) or failed."""
        await self._ended.wait()

    async def stop(self, shutdown: Shutdown | str = PLAIN_STOP) -> dict[str, tuple[int, int]]:
        """Stop every mule, then the root; returns what was left queued.

        As ``shutdown`` says (:mod:`muletui.engine.shutdown`; a string is the cause of a plain
        stop, ``SIGINT/SIGTERM received``): its first line, its signal to every mule, then
        :attr:`stop_mercy` seconds before each mule still alive is SIGKILLed with uWSGI's
        ``NO MERCY`` line, then its last line. Command crons still running are killed at once.
        During :meth:`start` (the app still importing), the root is killed at once and
        ``start()`` returns without forking a mule.
        """
        if self._finished or self.state is StackState.STOPPING:
            await self._ended.wait()
            return self._left
        if self.state is StackState.FAILED:
            return await self._finish()
        if isinstance(shutdown, str):
            shutdown = killing(shutdown)
        if shutdown.announce:
            self._log(shutdown.announce)
        importing = self.state is StackState.STARTING
        self.state = StackState.STOPPING
        if importing:
            self._log("stopped while the app was importing")
            if self._root is not None:
                self._root.kill()
            if self._ready is not None and not self._ready.done():
                self._ready.set_result(None)
        self._apply(self.lifecycle.stop_stack(self._slots(), shutdown.mule_signal))
        if self._crons is not None:
            await self._crons.close()
        await self._wait_children_gone(self.stop_mercy)
        lingering = [slot for slot in self._slots() if slot.pid]
        for slot in lingering:
            self._apply(self.lifecycle.outlived_mercy(slot, slot.pid))
        if lingering:
            await self._wait_children_gone(KILLED_WAIT)
        return await self._finish(shutdown.farewell)

    async def _wait_children_gone(self, timeout: float) -> None:
        """Until every mule and worker reported its exit, or ``timeout``."""
        if any(s.pid for s in self._slots()):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._children_gone.wait(), timeout)

    async def _finish(self, farewell: str = GOODBYE) -> dict[str, tuple[int, int]]:
        """Close the root (it kills stragglers), collect the last output, report leftovers,
        say ``farewell`` (if any)."""
        self._finished = True
        left: dict[str, tuple[int, int]] = {}
        if self._stats_server is not None:
            await self._stats_server.close()
        if self._root is not None:
            self._root.close_control()
            if not await self._root.wait(2.0):
                self._root.kill()
                await self._root.wait(2.0)
        self._apply(self.lifecycle.stack_stopped(self._slots()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._streams_closed.wait(), 2.0)
        self.agents.close_all()
        if self._watchdog is not None:
            self._watchdog.close()
        if self._crons is not None:
            await self._crons.close()
        if self.signals is not None:
            self.signals.drain_raised()
            await self.signals.close()
        if self._reports is not None:
            self._reports.drain(limit=1 << 30)
            self._reports.close()
        if self._channels is not None:
            for queue in self._channels.queues():
                count, size = queue.drain()
                if count:
                    left[queue.name] = (count, size)
            self._channels.close()
        if self._stats is not None:
            self._stats.close()
        self.listeners.close()
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
        if self.state is not StackState.FAILED:
            self.state = StackState.STOPPED
        for name, (count, size) in left.items():
            self._log(f"left queued in {name}: {count} message(s), {size} bytes")
        if farewell:
            self._log(farewell)
        self._left = left
        self._publish(events.StackStopped(left_queued=left))
        self._ended.set()
        return left

    # -- helpers ---------------------------------------------------------------------------

    def _publish(self, event: events.Event) -> None:
        self.bus.publish(event)

    def _log(self, text: str) -> None:
        self._publish(events.MasterLog(text=text))

    def _warn(self, text: str, mule_id: int = 0) -> None:
        self._publish(events.StackWarning(text=text, mule_id=mule_id))


def _status_text(code: int) -> str:
    return f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit {code}"

