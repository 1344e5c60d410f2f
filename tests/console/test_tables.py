"""The mule table and the locks & farms table with Pilot, painted from made-up snapshots: what a
cell says, and that it shows whole after a longer value replaced a shorter one."""

from __future__ import annotations

import time

from textual.app import App, ComposeResult

from muletui.console.widgets.tables import CACHED_CELLS, CACHED_ROWS, LockFarmTable, MuleTable
from muletui.engine.lifecycle import SlotState
from muletui.engine.snapshot import FarmView, LockView, MuleView, StackSnapshot
from muletui.ipc.stats_block import Activity
from muletui.record import replace


def mule(mule_id: int, state: SlotState = SlotState.RUNNING, **extra: object) -> MuleView:
    view = MuleView(
        mule_id=mule_id, mode="signal", state=state, pid=4000 + mule_id if state is SlotState.RUNNING else 0,
        respawns=0, last_exit="", retry_at=None, msgs_in=0, msgs_out=0, msgs_dropped=0, activity=Activity.IDLE,
        activity_arg=0, signals_handled=0, queue_bytes=0, signals_pending=0, locks_held=0, cpu_seconds=0.0,
        rss_bytes=0,
    )
    return replace(view, **extra)  # type: ignore[arg-type]


def snapshot(*mules: MuleView, farms: tuple[FarmView, ...] = ()) -> StackSnapshot:
    return StackSnapshot(mules, (LockView(0, 0, None, ()),), farms, 0, 0)


class TablesApp(App[None]):
    def compose(self) -> ComposeResult:
        yield MuleTable(id="mules")
        yield LockFarmTable(id="locks")


def shown(table, row: int) -> str:
    """What row ``row`` (0: the first under the header) shows on screen."""
    return table.render_line(row + 1).text


async def test_a_longer_value_is_shown_whole_where_a_shorter_one_was():
    """Columns are sized by their first values; ``killed by SIGKILL`` after ``exit 0`` and
    ``BACKOFF 12s`` after ``RUNNING`` must not be cut (``killed by``, ``BACKOFF 12``)."""
    app = TablesApp()
    async with app.run_test(size=(200, 20)) as pilot:
        table = app.query_one(MuleTable)
        table.paint(snapshot(mule(1, last_exit="exit 0"), mule(2)))
        await pilot.pause()
        assert "exit 0" in shown(table, 0)
        retry = time.monotonic() + 12.4
        table.paint(snapshot(mule(1, SlotState.BACKOFF, last_exit="killed by SIGKILL", retry_at=retry), mule(2)))
        await pilot.pause()
        row = shown(table, 0)
        assert "killed by SIGKILL" in row and "BACKOFF 12s" in row


async def test_a_stopped_mule_says_so_and_how_to_start_it():
    app = TablesApp()
    async with app.run_test(size=(200, 20)) as pilot:
        table = app.query_one(MuleTable)
        table.paint(snapshot(mule(1, SlotState.STOPPED, last_exit="exit 30")))
        await pilot.pause()
        row = shown(table, 0)
        assert "STOPPED" in row and "stopped: r starts it" in row and "EXITED" not in row


async def test_the_queue_column_shows_messages_and_bytes():
    app = TablesApp()
    async with app.run_test(size=(200, 20)) as pilot:
        table = app.query_one(MuleTable)
        table.paint(snapshot(mule(1, queue_messages=278, queue_bytes=1433), mule(2, queue_messages=1), mule(3)))
        await pilot.pause()
        assert str(table.get_cell("1", "queue")) == "278 / 1.4K"
        assert str(table.get_cell("2", "queue")) == "1 / 0B"  # an empty message is still a message
        assert str(table.get_cell("3", "queue")) == ""


async def test_a_farm_row_shows_its_members_states_and_what_is_queued():
    app = TablesApp()
    async with app.run_test(size=(200, 20)) as pilot:
        table = app.query_one(LockFarmTable)
        busy = FarmView("busy", 1, (1, 3), queue_bytes=1433, signals_pending=2, queue_messages=3)
        idle = FarmView("idle", 2, (2,), queue_bytes=0, signals_pending=0)
        table.paint(snapshot(mule(1), mule(2), mule(3, SlotState.BACKOFF), farms=(busy, idle)))
        await pilot.pause()
        assert str(table.get_cell("farm1", "holder / members")) == "mules 1 RUNNING, 3 BACKOFF"
        assert str(table.get_cell("farm1", "waiting / queued")) == "3 messages (1.4K), 2 signals"
        assert str(table.get_cell("farm2", "holder / members")) == "mules 2 RUNNING"
        assert str(table.get_cell("farm2", "waiting / queued")) == "empty"


async def test_a_narrow_mule_table_names_the_columns_out_of_sight():
    app = TablesApp()
    async with app.run_test(size=(80, 20)) as pilot:
        table = app.query_one(MuleTable)
        table.paint(snapshot(mule(1, last_exit="killed by SIGKILL", rss_bytes=12 << 20)))
        await pilot.pause()
        table.paint(snapshot(mule(1, last_exit="killed by SIGKILL", rss_bytes=12 << 20)))  # laid out now
        subtitle = str(table.border_subtitle)
        assert subtitle.startswith("out of sight: ") and subtitle.rstrip(")").count("rss")
        assert "mule," not in subtitle and "state" not in subtitle
        await pilot.resize_terminal(220, 20)
        await pilot.pause()
        table.paint(snapshot(mule(1, last_exit="killed by SIGKILL", rss_bytes=12 << 20)))
        assert table.border_subtitle == ""


async def test_a_table_keeps_a_few_screens_of_renders_however_often_it_changes():
    """Each update renews the render caches' keys; Textual's sizes (10,000 cells, 1,000 rows)
    filled them with dead renders that every full garbage collection walked.

    Each paint of 8 mules renews ~9 rows' and ~125 cells' keys: 50 paints leave ~450 rows and
    ~6,300 cells behind in caches with no bound, over 2× CACHED_ROWS and 3× CACHED_CELLS (and
    under Textual's own sizes, so a table back on those fails too)."""
    app = TablesApp()
    async with app.run_test(size=(200, 20)) as pilot:
        table = app.query_one(MuleTable)
        for n in range(50):
            table.paint(snapshot(*(mule(m, msgs_in=n) for m in range(1, 9))))
            await pilot.pause()
        assert len(table._cell_render_cache) <= CACHED_CELLS
        assert len(table._row_render_cache) <= CACHED_ROWS and len(table._line_cache) <= CACHED_ROWS
