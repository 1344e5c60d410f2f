"""The console's tables, each repainted from the model and the engine a few times a second:
mules, messages, signals, timers and file monitors, locks and farms.

Every table keeps its rows keyed, updates cells in place, and never reads a socket itself.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from rich.text import Text
from textual.cache import LRUCache
from textual.widgets import DataTable

from muletui.console.messages import MessageRecord
from muletui.console.model import ConsoleModel
from muletui.console.widgets.log_view import source_colour
from muletui.engine.filemon import FileMonitor
from muletui.engine.lifecycle import SlotState
from muletui.engine.signals import SignalEntry
from muletui.engine.snapshot import FarmView, MuleView, StackSnapshot, WorkerView
from muletui.engine.timers import Schedule
from muletui.ipc.agent_wire import Stop
from muletui.ipc.stats_block import Activity

STATE_STYLE = {
    SlotState.STARTING: "yellow",
    SlotState.RUNNING: "green",
    SlotState.BACKOFF: "bold red",
    SlotState.STOPPING: "yellow",
    SlotState.STOPPED: "dim",
    SlotState.FATAL: "bold red reverse",
}
NOBODY_DEBUGGING: Mapping[int, Stop] = MappingProxyType({})
FLASH_SECONDS = 1.0
CACHED_ROWS = 200  # rendered rows and lines a table keeps: a few screens
CACHED_CELLS = 2_000  # rendered cells


def activity_text(mule: MuleView) -> Text:
    """What the mule is doing, in words, coloured by kind."""
    if mule.state is SlotState.STOPPED:
        return Text("stopped: r starts it", style="italic")
    if not mule.pid:
        return Text("—", style="dim")
    activity, arg = mule.activity, mule.activity_arg
    if activity is Activity.WAITING_MESSAGE:
        return Text("mule_get_msg" + (" +signals" if arg else ""), style="cyan")
    if activity is Activity.WAITING_FARM:
        return Text("farm_get_msg", style="cyan")
    if activity is Activity.WAITING_SIGNAL:
        return Text("signal_wait", style="cyan")
    if activity is Activity.HANDLING_SIGNAL:
        return Text(f"handling signal {arg}", style="bold magenta")
    if activity is Activity.HANDLING_MESSAGE:
        return Text("mule_msg_hook", style="bold magenta")
    if activity is Activity.WAITING_LOCK:
        return Text(f"waiting lock {arg}", style="bold yellow")
    if mule.locks_held:
        held = ",".join(str(n) for n in range(64) if mule.locks_held >> n & 1)
        return Text(f"holding lock {held}", style="yellow")
    return Text("idle" if activity is Activity.IDLE else "running", style="dim" if activity is Activity.IDLE else "")


def debugging_text(stop: Stop) -> Text:
    """Where a mule's debugger waits: ``pdb at somaro.py:12`` (d opens its pane)."""
    what = "post-mortem" if stop.post_mortem else "pdb"
    return Text(f"{what} at {os.path.basename(stop.file)}:{stop.line} (d)", style="bold yellow")


def countdown(seconds: float) -> str:
    """``4.2s``, ``12m05s``, ``3h04m`` or ``2d03h``: time left, as precise as it is useful."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d{whole % 86400 // 3600:02d}h"


def _size(count: int) -> str:
    """``512B``, ``1.4K``, ``12K``, ``3.0M``: one decimal below 10 units."""
    size, unit = float(count), "B"
    for bigger in ("K", "M", "G", "T"):
        if size < 1024:
            break
        size, unit = size / 1024, bigger
    if unit == "B":
        return f"{count}B"
    return f"{size:.1f}{unit}" if size < 10 else f"{size:.0f}{unit}"


def queued(messages: int, size: int) -> str:
    """A queue's depth: ``278 / 1.4K`` (messages / bytes), empty when nothing is queued."""
    return f"{messages} / {_size(size)}" if messages or size else ""


def _sync_rows(table: DataTable, rows: Iterable[tuple[str, tuple[object, ...]]]) -> None:
    """Add, update and remove rows by key, keeping the cursor where it was.

    Only cells whose value changed are touched (an update repaints the table), and a column
    grows to fit a longer value (``killed by SIGKILL`` after ``exit 0``).
    """
    wanted: dict[str, tuple[object, ...]] = dict(rows)
    keys = [column.key for column in table.columns.values()]
    for row_key in list(table.rows):
        if row_key.value not in wanted:
            table.remove_row(row_key)
    for key, cells in wanted.items():
        if key in table.rows:
            for column, value, shown in zip(keys, cells, table.get_row(key), strict=True):
                if value != shown:
                    table.update_cell(key, column, value, update_width=True)
        else:
            table.add_row(*cells, key=key)


class ConsoleTable(DataTable):
    """A DataTable whose render caches hold a few screens, not Textual's 10,000 cells and 1,000
    rows and lines. Every cell update renews the caches' keys, so they fill with renders that are
    never used again; full of them, the tables held most of the console's objects, and every full
    garbage collection walked them all (100-180 ms under a flood, the worst key-to-screen delays).
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self._cell_render_cache = LRUCache(CACHED_CELLS)
        self._row_render_cache = LRUCache(CACHED_ROWS)
        self._line_cache = LRUCache(CACHED_ROWS)


class CpuMeter:
    """A process's CPU use between two paints, in percent of one core (``""`` at its first),
    and the cells every process row ends with."""

    def __init__(self) -> None:
        self._seen: dict[int, tuple[float, float]] = {}  # pid -> (when, CPU seconds then)

    def percent(self, pid: int, cpu_seconds: float, now: float) -> str:
        previous = self._seen.get(pid)
        self._seen[pid] = (now, cpu_seconds)
        if previous is None or not pid or now <= previous[0]:
            return ""
        return f"{100 * (cpu_seconds - previous[1]) / (now - previous[0]):.0f}%"

    def process_cells(self, view: MuleView | WorkerView, now: float) -> tuple[object, ...]:
        """A mule's or worker's last cells: signals pending, respawns, last exit, CPU, RSS."""
        return (
            Text(str(view.signals_pending), style="bold red") if view.signals_pending else "",
            view.respawns or "",
            view.last_exit,
            self.percent(view.pid, view.cpu_seconds, now),
            _size(view.rss_bytes) if view.rss_bytes else "",
        )


class MuleTable(ConsoleTable):
    """One row per mule slot."""

    COLUMNS = ("mule", "pid", "mode", "state", "activity", "in", "out", "queue", "sig", "pend", "resp", "last exit", "cpu", "rss")

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        for name in self.COLUMNS:
            self.add_column(name, key=name)
        self._cpu = CpuMeter()

    def selected_mule(self) -> int | None:
        if not self.row_count:
            return None
        return int(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value or 0)

    def paint(self, snapshot: StackSnapshot, debugging: Mapping[int, Stop] = NOBODY_DEBUGGING) -> None:
        """``debugging``: where the mules stopped at a ``(Pdb)`` prompt wait."""
        now = time.monotonic()
        rows: list[tuple[str, tuple[object, ...]]] = []
        for mule in snapshot.mules:
            stop = debugging.get(mule.mule_id)
            state = Text(mule.state.value, style=STATE_STYLE[mule.state])
            if mule.state is SlotState.BACKOFF and mule.retry_at:
                state.append(f" {max(0.0, mule.retry_at - now):.0f}s")
            if stop is not None and mule.pid:
                state = Text("DEBUGGING", style="bold black on yellow")
            rows.append(
                (
                    str(mule.mule_id),
                    (
                        Text(str(mule.mule_id), style=f"bold {source_colour(mule.mule_id)}"),
                        mule.pid or "",
                        mule.mode,
                        state,
                        debugging_text(stop) if stop is not None and mule.pid else activity_text(mule),
                        mule.msgs_in,
                        mule.msgs_out,
                        queued(mule.queue_messages, mule.queue_bytes),
                        mule.signals_handled,
                        *self._cpu.process_cells(mule, now),
                    ),
                )
            )
        _sync_rows(self, rows)
        self._say_what_is_out_of_sight()

    def _say_what_is_out_of_sight(self) -> None:
        """A narrow terminal cuts columns off: name them in the bottom border, and how to see them."""
        left, right = self.scroll_x, self.scroll_x + self.scrollable_content_region.width
        x = 0
        hidden: list[str] = []
        for column in self.columns.values():
            width = column.get_render_width(self)
            if x + width > right or x < left:
                hidden.append(str(column.label))
            x += width
        subtitle = f"out of sight: {', '.join(hidden)} (← → or shift+wheel)" if hidden else ""
        if subtitle != self.border_subtitle:
            self.border_subtitle = subtitle



class WorkerTable(ConsoleTable):
    """One row per worker slot (shown only when the stack has workers)."""

    COLUMNS = ("worker", "pid", "state", "status", "requests", "avg", "tx", "errors", "sig", "pend", "resp",
               "last exit", "cpu", "rss")

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        for name in self.COLUMNS:
            self.add_column(name, key=name)
        self._cpu = CpuMeter()

    def paint(self, workers: Iterable[WorkerView]) -> None:
        now = time.monotonic()
        rows: list[tuple[str, tuple[object, ...]]] = []
        for worker in workers:
            state = Text(worker.state.value, style=STATE_STYLE[worker.state])
            if worker.state is SlotState.BACKOFF and worker.retry_at:
                state.append(f" {max(0.0, worker.retry_at - now):.0f}s")
            status = Text(worker.status, style=_STATUS_STYLE.get(worker.status[:3], "bold magenta"))
            rows.append((
                str(worker.worker_id),
                (
                    Text(str(worker.worker_id), style=f"bold {source_colour(-worker.worker_id)}"),
                    worker.pid or "",
                    state,
                    status,
                    worker.requests,
                    f"{worker.avg_msecs:.1f} ms" if worker.requests else "",
                    _size(worker.tx_bytes) if worker.tx_bytes else "",
                    Text(str(worker.exceptions), style="bold red") if worker.exceptions else "",
                    worker.signals_handled,
                    *self._cpu.process_cells(worker, now),
                ),
            ))
        _sync_rows(self, rows)


_STATUS_STYLE = {"idl": "dim", "bus": "bold green", "": "dim"}
_KIND_STYLE = {"sent": "green", "received": "cyan", "dropped": "bold red"}


class MessageTable(ConsoleTable):
    """The message history, newest last. The fate comes before the message, whose text is cut
    at :data:`MESSAGE_WIDTH` characters, so the fate stays in sight however long messages are."""

    COLUMNS = ("time", "what", "who", "where", "bytes", "fate", "message")
    MESSAGE_WIDTH = 60

    def on_mount(self) -> None:
        self.cursor_type = "row"
        for name in self.COLUMNS:
            self.add_column(name, key=name)
        self._seen = 0  # rows of the history shown so far
        self._changes_seen = 0  # fate changes of the history applied so far

    def paint(self, model: ConsoleModel) -> None:
        """Add the new rows and update the fates that changed; rebuild when rows fell out of the
        history's ring or changes were missed (the tab was hidden while many settled)."""
        history = model.messages
        changed = list(history.changed)
        history.changed.clear()
        missed = history.changes - self._changes_seen > len(changed)
        self._changes_seen = history.changes
        fresh_count = history.added - self._seen
        self._seen = history.added
        if not (changed or fresh_count or missed):
            return
        records = list(history.rows)
        if missed or (fresh_count and self.row_count + fresh_count > len(records)):
            self.clear()
            fresh = records
        else:
            for record in changed:
                if str(record.seq) in self.rows:
                    self.update_cell(str(record.seq), "fate", _fate(record), update_width=True)
            fresh = records[len(records) - fresh_count :] if fresh_count else []
        for record in fresh:
            preview = record.preview
            if len(preview) > self.MESSAGE_WIDTH:
                preview = preview[: self.MESSAGE_WIDTH - 1] + "…"
            self.add_row(
                time.strftime("%H:%M:%S", time.localtime(record.wall)),
                Text(record.kind, style=_KIND_STYLE[record.kind]),
                record.who,
                record.where,
                record.size,
                _fate(record),
                Text(preview),
                key=str(record.seq),
            )
        if fresh:
            self.move_cursor(row=self.row_count - 1)


def _fate(record: MessageRecord) -> Text:
    return Text(record.fate, style=_KIND_STYLE[record.kind])


class SignalTable(ConsoleTable):
    COLUMNS = (
        "signal", "target", "handler", "registered by", "raised", "delivered", "handled", "failed", "dropped", "last run"
    )

    def on_mount(self) -> None:
        self.cursor_type = "row"
        for name in self.COLUMNS:
            self.add_column(name, key=name)

    def selected_signal(self) -> int | None:
        if not self.row_count:
            return None
        return int(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value or 0)

    def paint(self, table: dict[int, SignalEntry]) -> None:
        rows: list[tuple[str, tuple[object, ...]]] = []
        for signum in sorted(table):
            entry = table[signum]
            last = "" if entry.last_duration is None else f"{entry.last_duration * 1000:.2f} ms"
            rows.append(
                (
                    str(signum),
                    (
                        signum,
                        entry.target or "(any worker)",
                        Text(entry.handler),
                        Text(entry.registered_by, style="dim"),
                        entry.raised,
                        entry.delivered,
                        entry.handled,
                        Text(str(entry.failed), style="bold red") if entry.failed else 0,
                        Text(str(entry.dropped), style="bold red") if entry.dropped else 0,
                        last,
                    ),
                )
            )
        _sync_rows(self, rows)


class TimerTable(ConsoleTable):
    COLUMNS = ("kind", "#", "signal", "schedule", "next", "fires", "handler", "last run")

    def on_mount(self) -> None:
        self.cursor_type = "row"
        for name in self.COLUMNS:
            self.add_column(name, key=name)

    def paint(
        self,
        schedules: list[Schedule],
        monitors: list[FileMonitor],
        table: dict[int, SignalEntry],
        model: ConsoleModel,
    ) -> None:
        now = time.monotonic()

        def handler(signum: int) -> tuple[Text, str]:
            entry = table.get(signum)
            if entry is None:
                return Text("(none: goes to a worker)", style="dim"), ""
            last = "" if entry.last_duration is None else f"{entry.last_duration * 1000:.2f} ms"
            return Text(entry.handler), last

        rows: list[tuple[str, tuple[object, ...]]] = []
        for s in schedules:
            flash = now - model.flashes.get((s.kind, s.index), -10.0) < FLASH_SECONDS
            upcoming = "" if s.next_at is None else countdown(s.next_at - now)
            if s.kind == "rb_timer" and s.next_at is None:
                upcoming = "done"
            rows.append(
                (
                    f"{s.kind}{s.index}",
                    (
                        Text(s.kind, style="bold reverse green" if flash else ""),
                        s.index,
                        s.signum,
                        s.spec,
                        upcoming,
                        s.fires,
                        *handler(s.signum),
                    ),
                )
            )
        for m in monitors:
            flash = now - model.flashes.get(("file_monitor", m.index), -10.0) < FLASH_SECONDS
            schedule = m.path if m.watching else f"{m.path} (does not exist: never fires)"
            rows.append(
                (
                    f"file_monitor{m.index}",
                    (
                        Text("file monitor", style="bold reverse green" if flash else ""),
                        m.index,
                        m.signum,
                        Text(schedule + ("  ← " + ", ".join(m.last_changes) if m.last_changes else "")),
                        "",
                        m.fires,
                        *handler(m.signum),
                    ),
                )
            )
        _sync_rows(self, rows)


class LockFarmTable(ConsoleTable):
    """Locks (holder, waiters) and farms (each member's state, what is queued for the farm)."""

    COLUMNS = ("what", "holder / members", "waiting / queued")

    def on_mount(self) -> None:
        self.cursor_type = "row"
        for name in self.COLUMNS:
            self.add_column(name, key=name)

    def paint(self, snapshot: StackSnapshot) -> None:
        rows: list[tuple[str, tuple[object, ...]]] = []
        for lock in snapshot.locks:
            if lock.holder_pid:
                holder = f"mule {lock.holder_mule}" if lock.holder_mule else f"pid {lock.holder_pid}"
            else:
                holder = "free"
            waiting = ", ".join(f"mule {m}" for m in lock.waiters)
            rows.append((f"lock{lock.lock}", (f"lock {lock.lock}", holder, waiting)))
        states = {mule.mule_id: mule.state for mule in snapshot.mules}
        for farm in snapshot.farms:
            members = Text("mules ")
            for n, member in enumerate(farm.members):
                members.append(", " if n else "")
                members.append(f"{member} {states[member].value}", style=STATE_STYLE[states[member]])
            rows.append((f"farm{farm.index}", (f"farm {farm.name}", members, _farm_queue(farm))))
        _sync_rows(self, rows)


def _farm_queue(farm: FarmView) -> Text:
    """``3 messages (1.4K), 2 signals`` pending for a farm, or ``empty``."""
    parts = []
    if farm.queue_messages or farm.queue_bytes:
        noun = "message" if farm.queue_messages == 1 else "messages"
        parts.append(f"{farm.queue_messages} {noun} ({_size(farm.queue_bytes)})")
    if farm.signals_pending:
        parts.append(f"{farm.signals_pending} signal{'' if farm.signals_pending == 1 else 's'}")
    return Text(", ".join(parts)) if parts else Text("empty", style="dim")
