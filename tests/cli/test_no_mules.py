"""A stack with an app and no mule runs, as uWSGI runs it (issue 12).

pyuwsgi 2.0.30 printed, for the same app (``--master --wsgi-file app.py --http-socket ...``):
``mule_msg -> EXC ValueError: no mule configured`` (with and without a mule id), ``farm_msg ->
None``, ``in_farm -> None``, then the app's timer signal ran in the worker; muletui runs no
workers and says so for each delivery.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "console"))

from harness import log_texts, until

APP = """
import uwsgi
def show(label, call):
    try:
        print(label, "->", repr(call()), flush=True)
    except BaseException as e:
        print(label, "-> EXC", type(e).__name__ + ":", e, flush=True)
show("mule_msg", lambda: uwsgi.mule_msg(b"x"))
show("mule_msg 1", lambda: uwsgi.mule_msg(b"x", 1))
show("farm_msg", lambda: uwsgi.farm_msg("f", b"x"))
show("in_farm", lambda: uwsgi.in_farm())
uwsgi.register_signal(17, "", lambda num: print("tick", num))
uwsgi.add_timer(17, 1)
"""


def test_an_app_without_mules_runs_headless(cli, write):
    write("app.py", APP)
    run = cli("--headless", "--wsgi-file=app.py", "--duration", "1.5")
    assert run.wait() == 0
    for line in (
        "mule_msg -> EXC ValueError: no mule configured",
        "mule_msg 1 -> EXC ValueError: no mule configured",
        "farm_msg -> None",
        "in_farm -> None",
        "could not deliver signal 17 to workers pool (muletui runs no workers)",
        "goodbye to uWSGI.",
    ):
        assert line in run.output


def test_nothing_at_all_is_still_refused_after_the_spelling_hint(cli, write):
    write("m.ini", "[uwsgi]\nmulle = x.py\n")
    run = cli("--headless", "m.ini")
    assert run.wait() == 1
    assert run.output.startswith("muletui: --mulle is not an option (did you mean --mule?); nothing to run")


async def test_an_app_without_mules_runs_in_the_console(console, write):
    app = console(f"--wsgi-file={write('app.py', APP)}")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: "mule_msg -> EXC ValueError: no mule configured" in log_texts(app), what="the app")
        await until(pilot, lambda: any("runs no workers" in text for text in log_texts(app)), what="the timer")
