"""Where a warning about a mule is shown: as the master's line, in the console and headless."""

from __future__ import annotations

import io

from muletui.console.model import MASTER, MULE, TEXT, ConsoleModel
from muletui.engine import events
from muletui.headless import Printer

WALL = 1_795_000_000.0


def test_a_warning_about_a_mule_is_the_masters_line_in_both_front_ends():
    """The crash-loop warning is about mule 6 but written by muletui: the console's log and the
    headless printer both show it as the master's."""
    warning = events.StackWarning(text="mule 6 is crashing in a loop", mule_id=6, wall=WALL)
    model = ConsoleModel()
    model.apply([warning])
    (line,) = model.log.all
    assert line[MULE] == MASTER and line[TEXT] == "muletui warning: mule 6 is crashing in a loop"
    out = io.StringIO()
    Printer(out).write([warning])
    assert " master  ! muletui warning: mule 6 is crashing" in out.getvalue()
