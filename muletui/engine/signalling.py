"""The master's signal framework: raised signals in, routed bytes out, timers and monitors.

Owns the signal table and router, the timers (timer, rb timer, cron) and the file monitors,
reads the raise channel, and turns the stack's registration and timer requests into entries.
Every step is an event; every uWSGI log line is written where uWSGI writes it.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

from muletui.engine import events
from muletui.engine.channels import Channels
from muletui.engine.filemon import FileMonitor, FileMonitors
from muletui.engine.reports import DatagramReader, split_slot
from muletui.engine.signals import SignalEntry, SignalRouter
from muletui.engine.timers import Schedule, TimerService
from muletui.ipc import reports
from muletui.ipc.spec import FarmSpec


def source_name(slot: int, mules: int = 0) -> str:
    """``mule N``, ``worker N`` or ``master`` for a stats block slot (``mules``: the mule count)."""
    mule, worker = split_slot(slot, mules)
    return f"worker {worker}" if worker else f"mule {mule}" if mule else "master"


class SignalService:
    """Signals of one running stack."""

    def __init__(
        self,
        channels: Channels,
        farms: list[FarmSpec],
        publish: Callable[[events.Event], None],
        log: Callable[[str], None],
        warn: Callable[[str], None],
        live_workers: Callable[[], list[int]] = list,
    ) -> None:
        self._channels = channels
        self._mules = len(channels.mules)
        self._publish = publish
        self._log = log
        self._warn = warn
        self.router = SignalRouter(channels, farms, live_workers=live_workers)
        self.timers = TimerService(self._on_schedule)
        self.file_monitors = FileMonitors(self._on_file_monitor)
        self._raised = DatagramReader(channels.raised.recv, self._on_raised)
        self._bufsize = channels.shared_signal.send.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)

    @property
    def table(self) -> dict[int, SignalEntry]:
        return self.router.table

    # -- in --------------------------------------------------------------------------------

    def _on_raised(self, data: bytes) -> None:
        slot, signum = reports.RAISE_FORMAT.unpack(data)
        self.raise_signal(signum, source_name(slot, self._mules))

    def on_report(self, report: reports.Report) -> None:
        """A registration, a handler result or a timer request from a stack process."""
        kind = report[0]
        if kind == reports.REGISTERED:
            _k, _slot, signum, target, handler, site = report
            self.router.register(signum, target, handler, site)
            self._publish(events.SignalRegistered(signum=signum, target=target, handler=handler, site=site))
        elif kind == reports.ROUTED:
            _k, slot, signum, delivered, dropped = report
            self._routed_elsewhere(signum, source_name(slot, self._mules), delivered, dropped)
        elif kind == reports.HANDLED:
            _k, slot, signum, duration, ok = report
            entry = self.table.get(signum)
            if entry is not None:
                entry.handled += ok
                entry.failed += not ok
                entry.last_duration = duration
            mule, worker = split_slot(slot, self._mules)
            self._publish(events.SignalHandled(signum=signum, mule_id=mule, duration=duration, ok=ok, worker_id=worker))
        elif kind == reports.ADD_TIMER:
            self.add_timer(report[2], report[3])
        elif kind == reports.ADD_RB_TIMER:
            self.add_rb_timer(report[2], report[3], report[4])
        elif kind == reports.ADD_CRON:
            self.add_cron(report[2], tuple(report[3:8]))  # type: ignore[arg-type]
        elif kind == reports.ADD_FILE_MONITOR:
            self.add_file_monitor(report[2], report[3])

    # -- timers and monitors -----------------------------------------------------------------

    def add_timer(self, signum: int, seconds: int) -> None:
        if seconds < 0:
            self._log("timerfd_settime(): Invalid argument [core/event.c line 1275]")
        schedule = self.timers.add_timer(signum, seconds)
        self._announce(schedule.kind, schedule.index, signum, schedule.spec)

    def add_rb_timer(self, signum: int, seconds: int, iterations: int) -> None:
        if seconds <= 0:
            self._warn(
                f"add_rb_timer({signum}, {seconds}) refused: uWSGI's master would route signal {signum} "
                "in an endless loop (over a million times in 3 s) and never serve anything else"
            )
            return
        schedule = self.timers.add_rb_timer(signum, seconds, iterations)
        self._announce(schedule.kind, schedule.index, signum, schedule.spec)

    def add_cron(self, signum: int, fields: tuple[int, int, int, int, int]) -> None:
        schedule = self.timers.add_cron(signum, fields)
        self._announce(schedule.kind, schedule.index, signum, schedule.spec)

    def add_file_monitor(self, signum: int, path: str, announce: bool = False) -> None:
        """``announce``: log uWSGI's ``[uwsgi-fsmon]`` line on every batch (``--fs-signal``)."""
        monitor = self.file_monitors.add(signum, path, announce)
        self._announce("file_monitor", monitor.index, signum, path)

    def _announce(self, kind: str, index: int, signum: int, spec: str) -> None:
        self._publish(events.TimerAdded(timer_kind=kind, index=index, signum=signum, spec=spec))

    def _on_schedule(self, schedule: Schedule) -> None:
        self._publish(
            events.TimerFired(timer_kind=schedule.kind, index=schedule.index, signum=schedule.signum, fires=schedule.fires)
        )
        if schedule.kind == "cron":
            self._log(f"[uwsgi-cron] routing signal {schedule.signum}")
        self.raise_signal(schedule.signum, schedule.kind)

    def _on_file_monitor(self, monitor: FileMonitor) -> None:
        self._publish(
            events.TimerFired(
                timer_kind="file_monitor",
                index=monitor.index,
                signum=monitor.signum,
                fires=monitor.fires,
                changes=monitor.last_changes,
            )
        )
        if monitor.announce:
            self._log(f'[uwsgi-fsmon] detected event on "{monitor.path}"')
        self.raise_signal(monitor.signum, "file_monitor")

    # -- out -------------------------------------------------------------------------------

    def raise_signal(self, signum: int, source: str) -> None:
        """Route ``signum`` (mod 256) by the table, as uWSGI's master does with what it reads."""
        signum &= 0xFF
        entry = self.table.get(signum)
        target = entry.target if entry is not None else ""
        self._publish(events.SignalRaised(signum=signum, source=source))
        if entry is not None:
            entry.raised += 1
        route = self.router.resolve(signum, target)
        for line in route.errors:
            self._log(line)
        if not route.sockets:
            if entry is not None:
                entry.dropped += 1
            self._publish(
                events.SignalDropped(signum=signum, target=target, destination=target or "workers", reason=route.reason)
            )
            return
        delivered = []
        for name, sock in route.sockets:
            try:
                sock.send.send(bytes((signum,)))
            except BlockingIOError:
                self._log(
                    f"*** SIGNAL QUEUE IS FULL: buffer size {self._bufsize} bytes "
                    "(you can tune it with --signal-bufsize) ***"
                )
                self._log(f"could not deliver signal {signum} to {name}")
                if entry is not None:
                    entry.dropped += 1
                self._publish(events.SignalDropped(signum=signum, target=target, destination=name, reason="queue full"))
            else:
                delivered.append(name)
        if entry is not None:
            entry.delivered += len(delivered)
        if delivered:
            self._publish(events.SignalRouted(signum=signum, target=target, destinations=tuple(delivered)))

    def _routed_elsewhere(self, signum: int, source: str, delivered: tuple[str, ...], dropped: tuple[str, ...]) -> None:
        """Account for a signal a stack process raised and routed itself."""
        entry = self.table.get(signum)
        target = entry.target if entry is not None else ""
        self._publish(events.SignalRaised(signum=signum, source=source))
        if entry is not None:
            entry.raised += 1
            entry.delivered += len(delivered)
            entry.dropped += len(dropped)
        for name in dropped:
            self._publish(events.SignalDropped(signum=signum, target=target, destination=name, reason="queue full"))
        if delivered:
            self._publish(events.SignalRouted(signum=signum, target=target, destinations=delivered))

    def drain_raised(self) -> None:
        self._raised.drain(limit=1 << 30)

    async def close(self) -> None:
        self._raised.close()
        self.timers.close()
        await self.file_monitors.close()
