"""How a stack stops, in uWSGI's words: the line that announces it, the signal every mule gets
and the line that ends it (uWSGI 2.0.30: core/master.c, core/master_utils.c).

- A stop (SIGINT, SIGQUIT, and muletui's own: the console, ``--duration``):
  ``SIGINT/SIGTERM received...killing workers...``, SIGINT to the mules, ``goodbye to uWSGI.``
- ``--exit-on-reload`` makes a reload end the instance instead of re-executing it. SIGHUP is
  uWSGI's graceful reload (``...gracefully killing workers...``, SIGHUP to the mules), SIGTERM
  its brutal one in 2.0 (``...brutally killing workers...``, SIGTERM); both end with
  ``uWSGI: GAME OVER (insert coin)`` and exit status 0.

A mule still alive when its mercy ran out is killed with uWSGI's line,
:func:`no_mercy_line`, in every case.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass

GOODBYE = "goodbye to uWSGI."
GAME_OVER = "uWSGI: GAME OVER (insert coin)"


@dataclass(frozen=True)
class Shutdown:
    """One way of stopping: ``announce`` is logged first (``''``: nothing), every mule gets
    ``mule_signal``, ``farewell`` is the master's last line."""

    announce: str
    mule_signal: signal.Signals
    farewell: str


def killing(cause: str) -> Shutdown:
    """A stop for ``cause`` (``SIGINT/SIGTERM received``): ``CAUSE...killing workers...``."""
    return Shutdown(f"{cause}...killing workers..." if cause else "", signal.SIGINT, GOODBYE)


#: A stop nobody explained (an API call, a test): SIGINT and goodbye, no first line.
PLAIN_STOP = killing("")
#: SIGHUP with ``--exit-on-reload``.
GRACEFUL_EXIT = Shutdown("...gracefully killing workers...", signal.SIGHUP, GAME_OVER)
#: SIGTERM with ``--exit-on-reload`` (uWSGI 2.0's SIGTERM is a brutal reload).
BRUTAL_EXIT = Shutdown("...brutally killing workers...", signal.SIGTERM, GAME_OVER)


def no_mercy_line(kind: str, number: int, pid: int) -> str:
    """uWSGI's line for a mule or worker SIGKILLed because it outlived its mercy (reload or stop)."""
    return f"{kind} {number} (pid: {pid}) is taking too much time to die...NO MERCY !!!"
