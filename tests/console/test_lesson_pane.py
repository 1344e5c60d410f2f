"""A lesson's Watch and Try steps inside the console, so a class never leaves it."""

from __future__ import annotations

from harness import until
from textual.widgets import Static

from muletui.lessons import find


def lesson_text(app) -> str:
    """The markdown source the Lesson tab renders."""
    return app.query_one("#lesson-text", Static).content.markup


async def test_the_lesson_tab_shows_the_running_lessons_steps(console):
    lesson = find("timers")
    assert lesson is not None
    app = console("--ini", lesson.ini)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.master.mules and all(m.pid for m in app.master.mules.values()), what="mules")
        await pilot.press("6")
        assert app.query_one("#tabs").active == "tab-lesson"
        shown = lesson_text(app)
        assert shown.startswith(f"# {lesson.title}")
        assert lesson.guide() in shown


async def test_a_stack_that_is_no_lesson_says_where_lessons_are(console, tmp_path):
    (tmp_path / "idle.py").write_text("import time\ntime.sleep(60)\n")
    app = console("--mule=idle.py")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("6")
        assert "muletui demo" in lesson_text(app)
