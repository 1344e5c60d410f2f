"""Headless prints the traps the console would hint at: one ``muletui hint:`` line per new trap."""

from __future__ import annotations

import io

from muletui.engine import events
from muletui.engine.traps import TrapSpotter
from muletui.headless import Printer


def test_each_new_trap_gets_one_hint_line():
    out = io.StringIO()
    printer = Printer(out, traps=TrapSpotter({1: False, 2: True}))
    call = events.MessageReceived(
        mule_id=1, queue="shared", size=98, preview="thumbnail('a.jpg', 128)", maybe_truncated=False, mulefunc="thumbnail"
    )
    run_by_hook = events.MessageReceived(
        mule_id=2, queue="shared", size=98, preview="thumbnail('b.jpg', 128)", maybe_truncated=False, mulefunc="thumbnail"
    )
    full = events.MessageDropped(sender=3, target=1, size=5, reason="queue full")
    printer.write([call, run_by_hook, full, call])
    printer.write([full, call])
    hints = [line.split(" ! ", 1)[1] for line in out.getvalue().splitlines()]
    assert [hint[:62] for hint in hints] == [
        "muletui hint: Programmed mule 1 took a @mulefunc call, thumbna",
        "muletui hint: The queue of mule 1 is full, so mule_msg() retur",
    ]
