"""``--exit-on-reload``: a reload stops the stack as uWSGI 2.0.30's does (measured: SIGHUP logs
``...gracefully killing workers...`` and gives the mules SIGHUP, SIGTERM logs
``...brutally killing workers...`` and gives them SIGTERM; each mule's ``annihilated`` line,
then ``uWSGI: GAME OVER (insert coin)``, exit status 0)."""

from __future__ import annotations

import re
import signal

import pytest

_PREFIX = re.compile(r"^[\d:.]+ (master|mule \d+) *[|!] ")

TELLER = """
import signal, sys
def leave(signum, frame):
    print(f"got {signal.Signals(signum).name}", flush=True)
    sys.exit(0)
for one in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM):
    signal.signal(one, leave)
print("up", flush=True)
signal.pause()
"""


@pytest.mark.parametrize(
    ("signum", "announce"),
    [(signal.SIGHUP, "...gracefully killing workers..."), (signal.SIGTERM, "...brutally killing workers...")],
)
def test_a_reload_signal_ends_the_stack_with_game_over(cli, write, signum, announce) -> None:
    write("teller.py", TELLER)
    run = cli("--headless", "--mule=teller.py", "--mule", "--exit-on-reload")
    run.read_until("up")
    run.process.send_signal(signum)
    assert run.wait(timeout=10) == 0
    lines = [_PREFIX.sub("", line) for line in run.output.splitlines()]
    tail = lines[lines.index(announce):]
    assert f"got {signum.name}" in tail
    assert sorted(line for line in tail if "annihilated" in line) == [
        f"mule {n} (pid: {pid}) annihilated" for n, pid in enumerate(run.pids(), start=1)
    ]
    assert tail[-1] == "uWSGI: GAME OVER (insert coin)"
    assert "goodbye to uWSGI." not in run.output and "reloading mules" not in run.output


def test_without_it_sighup_reloads_the_mules(cli, write) -> None:
    write("teller.py", TELLER)
    run = cli("--headless", "--mule=teller.py")
    run.read_until("up")
    run.process.send_signal(signal.SIGHUP)
    run.read_until(r"got SIGHUP[\s\S]*up")
    run.process.send_signal(signal.SIGINT)
    assert run.wait(timeout=10) == 0
    assert "SIGHUP received: reloading mules..." in run.output
    assert "GAME OVER" not in run.output and run.output.rstrip().endswith("goodbye to uWSGI.")
