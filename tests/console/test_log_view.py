"""The log pane with Pilot: rows of recycled lines, long lines, selection and copy."""

from __future__ import annotations

from harness import ended, until
from textual.app import App, ComposeResult
from textual.geometry import Offset
from textual.selection import Selection

from muletui.console.model import LogBuffer
from muletui.console.widgets.log_view import LogView

WALL = 1_795_000_000.0
LONG = "start " + "x" * 150 + " the end"


class LogApp(App[None]):
    def __init__(self, buffer: LogBuffer) -> None:
        super().__init__()
        self.buffer = buffer

    def compose(self) -> ComposeResult:
        yield LogView(self.buffer, id="log")


def rows(view: LogView) -> list[str]:
    return [view.render_line(y).text for y in range(view.scrollable_content_region.height)]


async def test_a_row_never_shows_the_text_of_a_freed_line():
    """The row cache is keyed by ``id(line)``: in a flood, lines that fell off the ring are freed
    and new ones allocated at their addresses; a row must show its own line, never an old one."""
    buffer = LogBuffer(8)
    app = LogApp(buffer)
    async with app.run_test(size=(80, 10)) as pilot:
        view = app.query_one(LogView)
        view.show_time = False
        number = 0
        for _ in range(100):
            batch = []
            for _ in range(8):
                number += 1
                batch.append((WALL, 1, "out", f"line {number}"))
            buffer.add(batch)
            del batch
            view.sync()
            view.scroll_to(y=0, animate=False, immediate=True)
            shown = [row.split("│ ")[1].rstrip() for row in rows(view)[:8]]
            assert shown == [f"line {n}" for n in range(number - 7, number + 1)]
            await pilot.pause(0)


async def test_a_long_line_scrolls_sideways_with_an_arrow_where_it_goes_on():
    buffer = LogBuffer(10)
    buffer.add([(WALL, 1, "out", LONG), (WALL, 2, "out", "short")])
    app = LogApp(buffer)
    async with app.run_test(size=(80, 10)) as pilot:
        view = app.query_one(LogView)
        view.sync()
        await pilot.pause()
        first, second = rows(view)[:2]
        assert first.endswith("→") and "the end" not in first
        assert not second.rstrip().endswith("→")
        assert view.max_scroll_x > 0
        view.focus()
        await pilot.press("end")  # to the last line; then right until the end of the long one
        view.scroll_to(x=view.max_scroll_x, animate=False)
        await pilot.pause()
        first = rows(view)[0]
        assert first.startswith("←") and first.rstrip().endswith("the end")


async def test_a_double_click_selects_a_line_and_ctrl_c_copies_it():
    buffer = LogBuffer(10)
    buffer.add([(WALL, 1, "out", "first line"), (WALL, 2, "err", LONG)])
    app = LogApp(buffer)
    async with app.run_test(size=(80, 10)) as pilot:
        view = app.query_one(LogView)
        view.show_time = False
        view.sync()
        await pilot.pause()
        await pilot.double_click(LogView, offset=(5, 1))
        await pilot.pause()
        assert app.screen.get_selected_text() == f"mule 2  ! {LONG}"  # the whole line, not only what shows
        await pilot.press("ctrl+c")
        assert app.clipboard == f"mule 2  ! {LONG}"
        # a selection over part of two lines, as a drag makes it
        app.screen.selections = {view: Selection(Offset(10, 0), Offset(15, 1))}
        await pilot.pause()
        assert app.screen.get_selected_text() == "first line\nmule 2  ! start"


async def test_in_the_console_ctrl_c_copies_a_selected_log_line_instead_of_quitting(console, tmp_path):
    talker = tmp_path / "talker.py"
    talker.write_text("import time\nprint('copy me', flush=True)\ntime.sleep(60)\n")
    app = console(f"--mule={talker}")
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.query_one(LogView)
        await until(pilot, lambda: "copy me" in view.texts(), what="the line")
        index = view.texts().index("copy me")
        app.screen.selections = {view: Selection(Offset(0, index), Offset(200, index))}
        await pilot.press("ctrl+c")
        await until(pilot, lambda: app.clipboard, what="the copy")
        assert app.clipboard.endswith("mule 1  │ copy me") and app.is_running
        app.screen.clear_selection()
        await pilot.press("ctrl+c")  # nothing selected: quits
        await ended(app)
        assert not app.is_running
