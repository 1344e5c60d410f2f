"""The message table keeps fates in sight; the palette shows every hint seen, with times and counts."""

from __future__ import annotations

import io
import re

from harness import deaf_mule, painted, until
from rich.console import Console
from textual.command import CommandList, CommandPalette
from textual.widgets import Static

from muletui.console.hints import HintsScreen
from muletui.console.widgets.tables import MessageTable
from muletui.engine.traps import Trap


async def test_the_fate_column_stays_in_sight_of_a_long_binary_message_at_80_columns(console, tmp_path):
    app = console(f"--mule={deaf_mule(tmp_path)}")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.master.mules[1].pid, what="mule 1")
        await pilot.press("2")  # the messages tab
        app.master.send_message(b"\x80\x04\x95" + bytes(range(200)), 1)  # a pickle of nothing: escapes
        table = app.query_one(MessageTable)
        await until(pilot, lambda: table.row_count == 1, what="the sent row")
        await painted(pilot)
        right_edge = 0
        for column in table.columns.values():
            right_edge += column.get_render_width(table)
            if str(column.key.value) == "fate":
                break
        assert right_edge <= table.scrollable_content_region.width
        assert str(table.get_row_at(0)[5]) == "queued"


async def test_the_palette_lists_every_hint_seen_with_its_count(console, tmp_path):
    app = console(f"--mule={deaf_mule(tmp_path)}")
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.master.mules[1].pid, what="mule 1")
        app.model.hint(Trap("first", "The first trap, long gone from the hint line."))
        app.model.hint(Trap("second", "The second trap, seen twice."))
        app.model.hint(Trap("second", "The second trap, seen twice."))
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette), what="the palette")
        for key in "hints":
            await pilot.press(key)
        await until(pilot, lambda: app.screen.query_one(CommandList).option_count > 0, what="palette hits")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, HintsScreen), what="the hint history")
        printer = Console(width=300, record=True, file=io.StringIO())
        printer.print(app.screen.query_one(Static).content)
        shown = printer.export_text()
        assert "The first trap, long gone from the hint line." in shown
        assert re.search(r"\b2 +The second trap, seen twice\.", shown)  # with its count
        assert shown.index("second trap") < shown.index("first trap")  # the most recent first
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, HintsScreen), what="closed")
