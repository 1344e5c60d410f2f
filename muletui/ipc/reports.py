"""Reports stack processes send to the master over the shared report socket.

A report is one ``marshal``-encoded tuple per datagram, its first item a kind below. Writes are
non-blocking: a report that does not fit is counted as dropped in the sender's stats record,
never waited for. Per-message and per-lock reports are only sent while the master asks for
them (:attr:`HeaderFlag.DETAIL_EVENTS`) and, like signal reports, within a per-process rate
budget; registrations and timer requests are always sent.
"""

from __future__ import annotations

import marshal
import struct
from typing import Any, Final

from muletui.ipc.previews import describe

#: ("sent", slot, target, size, preview): a mule_msg was queued. ``target`` is a mule id
#: (0 = shared queue) or a farm name; ``preview`` is the message's first bytes, raw, as
#: :func:`~muletui.ipc.previews.preview_bytes` cuts them (the master formats them: the
#: sender's hot path does as little as it can).
SENT: Final = "sent"
#: ("dropped", slot, target, size, reason): mule_msg returned False.
DROPPED: Final = "dropped"
#: ("received", slot, queue, size, preview, buffer_size, swallowed): a mule read a message.
#: ``queue`` is "own", "shared" or a farm name; ``swallowed``: a signal-mode mule without
#: ``mule_msg_hook`` read it only to drop it.
RECEIVED: Final = "received"
#: ("hook_raised", slot, queue, size, preview, exception name): the ``mule_msg_hook`` of a
#: signal-mode mule raised on the message it had just read (and reported as received).
HOOK_RAISED: Final = "hook_raised"
#: ("warning", slot, text): something uWSGI would do worse (crash, hang) that muletui refused.
WARNING: Final = "warning"
#: ("registered", slot, signum, target, handler name): register_signal in the stack root.
REGISTERED: Final = "registered"
#: ("routed", slot, signum, delivered names, dropped names): a stack process routed a signal
#: with a mule or farm target itself (see ``muletui.stack.signals.signal``).
ROUTED: Final = "routed"
#: ("handled", slot, signum, seconds, ok): a signal handler ran (or the signal had none: ok False).
HANDLED: Final = "handled"
#: ("add_timer" | "add_rb_timer", slot, signum, seconds, iterations): a timer to activate.
ADD_TIMER: Final = "add_timer"
ADD_RB_TIMER: Final = "add_rb_timer"
#: ("add_cron", slot, signum, minute, hour, day, month, weekday)
ADD_CRON: Final = "add_cron"
#: ("add_file_monitor", slot, signum, absolute path)
ADD_FILE_MONITOR: Final = "add_file_monitor"
#: ("lock", slot, lock number, "wait" | "acquired" | "released", native thread id)
LOCK: Final = "lock"

#: ("batch", report, report, ...): reports a mule gathered and sent in one datagram.
BATCH: Final = "batch"

#: The raise channel's datagram: (slot, signal number), one per ``uwsgi.signal()``.
RAISE_FORMAT: Final = struct.Struct("<HB")

Report = tuple[Any, ...]


def preview_text(data: bytes) -> str:
    """A message's first bytes as a person reads them (see :mod:`muletui.ipc.previews`)."""
    return describe(data).text


def encode(report: Report) -> bytes:
    return marshal.dumps(report)


def decode(data: bytes) -> Report:
    report = marshal.loads(data)
    if not isinstance(report, tuple) or not report:
        raise ValueError("malformed report")
    return report
