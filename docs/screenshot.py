"""Make docs/console.svg: the console on the built-in demo stack, as a user sees it after 8 s.

Run from the repository root: ``python docs/screenshot.py``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from muletui.cli import demo_argv
from muletui.config.builder import build
from muletui.config.options import parse_argv
from muletui.console.app import MuleConsole


async def main() -> None:
    app = MuleConsole(build(parse_argv(demo_argv())))
    async with app.run_test(size=(120, 34)) as pilot:
        await pilot.pause(8)
        app.save_screenshot(str(Path(__file__).with_name("console.svg")))
        await pilot.press("q")


if __name__ == "__main__":
    asyncio.run(main())
