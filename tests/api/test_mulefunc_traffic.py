"""@mulefunc traffic in real stacks, as the message history and the hints see it: calls shown
as calls, a hook that raised reported as such, and no false trap on the decorator's own path."""

from __future__ import annotations

import re

from muletui.console.model import ConsoleModel
from muletui.engine import events
from muletui.engine.traps import TrapSpotter
from muletui.lessons import find

HOOKED_APP = """
import uwsgidecorators  # every signal-mode mule now unpickles what it reads (uWSGI issue #624)
"""


async def test_a_plain_message_to_a_pickle_hook_is_received_with_the_hook_raised(stack, write):
    run = await stack(f"--wsgi-file={write('app.py', HOOKED_APP)}", "--mule", detail_events=True)
    await run.until(lambda: run.master.mules[1].pid, what="mule 1")
    assert run.master.send_message(b"not a pickle", 1) == "queued"
    await run.until(lambda: run.of(events.MessageHookRaised), what="the hook's failure")
    (raised,) = run.of(events.MessageHookRaised)
    assert (raised.mule_id, raised.queue, raised.preview, raised.error) == (1, "own", "not a pickle", "UnpicklingError")
    await run.line("UnpicklingError", mule_id=1)  # uWSGI's traceback, printed by the mule
    model = ConsoleModel()
    model.apply(run.events)
    (row,) = [row for row in model.messages.rows if row.kind == "sent"]
    assert row.fate == "received by mule 1 (hook raised)"
    assert "pickle consumer" in model.hints["hook:1"].text


async def test_offload_calls_show_as_calls_and_their_intended_path_is_no_trap(stack):
    lesson = find("offload")
    assert lesson is not None
    run = await stack("--ini", str(lesson.ini), detail_events=True)
    await run.line(r"^thumbnail\('photo-\d+.jpg', 128\) done on mule [23]$", count=2, timeout=15)
    calls = [e for e in run.of(events.MessageSent) if e.sender == 4 and e.target == 0]
    assert calls and all(re.fullmatch(r"thumbnail\('photo-\d+\.jpg', 128\)", e.preview) for e in calls)
    taken = [e for e in run.of(events.MessageReceived) if e.mulefunc]
    assert {e.mulefunc for e in taken} == {"thumbnail"} and {e.mule_id for e in taken} & {2, 3}
    spotter = TrapSpotter()
    spotter.spot_snapshot(run.master.snapshot())  # mule 1 programmed, 2 and 3 signal mode
    traps = {trap.key for trap in spotter.spot_events(run.events)}
    assert not {key for key in traps if key.startswith(("hooked:", "swallowed:", "hook:"))}
    assert traps <= {"mulefunc-lost:1"}  # mule 1 may win the id-less race: that call is lost
