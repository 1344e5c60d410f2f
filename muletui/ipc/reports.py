"""Reports stack processes send to the master over the shared report socket.

A report is one ``marshal``-encoded tuple per datagram, its first item a kind below. Writes are
non-blocking: a report that does not fit is counted as dropped in the sender's stats record,
never waited for. Per-message reports are only sent while the master asks for them
(:attr:`HeaderFlag.MESSAGE_EVENTS`) and within a per-process rate budget.
"""

from __future__ import annotations

import marshal
from typing import Any, Final

#: ("sent", slot, target, size, preview): a mule_msg was queued. ``target`` is a mule id
#: (0 = shared queue) or a farm name.
SENT: Final = "sent"
#: ("dropped", slot, target, size, reason): mule_msg returned False.
DROPPED: Final = "dropped"
#: ("received", slot, queue, size, preview, buffer_size): a mule read a message. ``queue`` is
#: "own", "shared" or a farm name.
RECEIVED: Final = "received"
#: ("warning", slot, text): something uWSGI would do worse (crash, hang) that muletui refused.
WARNING: Final = "warning"

PREVIEW_BYTES: Final = 64

Report = tuple[Any, ...]


def encode(report: Report) -> bytes:
    return marshal.dumps(report)


def decode(data: bytes) -> Report:
    report = marshal.loads(data)
    if not isinstance(report, tuple) or not report:
        raise ValueError("malformed report")
    return report
