"""uWSGI traps spotted in the event stream and in stack snapshots, each explained in a sentence.

Pure: events and snapshots in, :class:`Trap` out; no clock, no I/O, no Textual. The console
shows the latest trap and keeps a history of them; headless prints each new one on a line.

What is a trap here is what surprises people about uWSGI mules, not every unusual event: a
``@mulefunc`` call that a signal-mode mule takes from the shared queue and runs through
``mule_msg_hook`` is that decorator working as designed, while the same call taken by a
programmed mule is lost.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from muletui.engine import events
from muletui.engine.snapshot import StackSnapshot
from muletui.ipc.stats_block import Activity

#: The events :meth:`TrapSpotter.spot_events` looks at: a consumer may subscribe to only these.
EVENT_KINDS: tuple[type[events.Event], ...] = (
    events.StackWarning, events.MessageDropped, events.MessageReceived, events.MessageHookRaised, events.MasterLog,
)

#: The master's line when the app did not load and the stack runs on without it.
NO_APP_LINE = "*** no app loaded. going in full dynamic mode ***"


@dataclass(frozen=True)
class Trap:
    """``key`` names the trap and where it was seen (``deaf:1``, ``full:mule 2``): seen again,
    a trap is counted, not explained again. ``text`` explains it."""

    key: str
    text: str


class TrapSpotter:
    """Remembers what it needs between calls: which mules run in signal mode (from the plan
    or from snapshots) and how many signals were pending for each at the last snapshot."""

    def __init__(self, signal_mode: Mapping[int, bool] | None = None) -> None:
        """``signal_mode``: mule id → whether it runs in signal mode, as far as known before
        any snapshot (a mule of unknown mode is never said to be in the wrong one)."""
        self._signal_mode: dict[int, bool] = dict(signal_mode or {})
        self._pending_seen: dict[int, int] = {}

    def spot_events(self, batch: Iterable[events.Event]) -> list[Trap]:
        """The traps ``batch`` shows, in order (a trap seen twice is listed twice)."""
        found: list[Trap] = []
        for event in batch:
            if isinstance(event, events.MessageReceived):
                found += self._received(event)
            elif isinstance(event, events.MessageHookRaised):
                found.append(_hook_raised(event))
            elif isinstance(event, events.MessageDropped):
                found += _dropped(event)
            elif isinstance(event, events.MasterLog) and event.text == NO_APP_LINE:
                found.append(
                    Trap(
                        "no-app",
                        "The app did not load (the lines above say why). uWSGI logs that and runs the mules "
                        "without it, and so does muletui: what the app sets up at import (decorators, signal "
                        "handlers, @postfork hooks) may be missing in the mules. Add --need-app to stop "
                        "instead, as uWSGI then does (exit status 22).",
                    )
                )
            elif isinstance(event, events.StackWarning) and "crashing in a loop" in event.text:
                found.append(
                    Trap(
                        f"loop:{event.mule_id}",
                        f"Mule {event.mule_id} keeps exiting right after it starts. uWSGI would respawn it "
                        "every second forever; muletui backs off. A programmed mule must never return: "
                        "loop on mule_get_msg() or signal_wait().",
                    )
                )
        return found

    def spot_snapshot(self, snapshot: StackSnapshot) -> list[Trap]:
        """The traps only visible in state; also learns each mule's mode."""
        found: list[Trap] = []
        for mule in snapshot.mules:
            self._signal_mode[mule.mule_id] = mule.mode == "signal"
            deaf = mule.activity is Activity.WAITING_MESSAGE and not mule.activity_arg
            growing = mule.signals_pending > self._pending_seen.get(mule.mule_id, 0)
            self._pending_seen[mule.mule_id] = mule.signals_pending
            if deaf and growing:
                found.append(
                    Trap(
                        f"deaf:{mule.mule_id}",
                        f"{mule.signals_pending} signal(s) are piling up for mule {mule.mule_id}: it waits in "
                        "mule_get_msg() with the default signals=True, which in uWSGI 2.0 means it does NOT "
                        "take signals (the flag is inverted). Use mule_get_msg(signals=False) or signal_wait().",
                    )
                )
        return found

    def _received(self, event: events.MessageReceived) -> list[Trap]:
        found: list[Trap] = []
        mule = event.mule_id
        if event.maybe_truncated:
            found.append(
                Trap(
                    f"truncated:{mule}",
                    f"Mule {mule} read a message exactly as long as its buffer ({event.size} bytes): "
                    "it was probably truncated, and the rest is lost. Pass a larger buffer_size.",
                )
            )
        signal_mode = self._signal_mode.get(mule)
        where = "its own queue" if event.queue == "own" else f"the {event.queue} queue"
        if event.swallowed:
            found.append(
                Trap(
                    f"swallowed:{mule}",
                    f"Signal-mode mule {mule} took a message from {where} and dropped it: it has no "
                    "uwsgi.mule_msg_hook. Id-less and farm messages go to whichever mule reads first, "
                    "signal-mode mules included, not to 'the first programmed mule' as the docs say.",
                )
            )
        elif event.mulefunc and signal_mode is False:
            found.append(
                Trap(
                    f"mulefunc-lost:{mule}",
                    f"Programmed mule {mule} took a @mulefunc call, {event.mulefunc}(), from {where}: only a "
                    "signal-mode mule runs it (uwsgidecorators' mule_msg_hook); here it is bytes from "
                    "mule_get_msg(), and the call never runs. An id-less @mulefunc goes to whichever mule "
                    "reads first: pin it with @mulefunc(N) to a signal-mode mule, or to a farm of them.",
                )
            )
        elif signal_mode and not event.mulefunc and event.queue != "own":
            found.append(
                Trap(
                    f"hooked:{mule}",
                    f"Signal-mode mule {mule} took a message from {where} and handed it to "
                    "uwsgi.mule_msg_hook. Id-less and farm messages go to whichever mule reads first, "
                    "signal-mode mules included, not to 'the first programmed mule' as the docs say.",
                )
            )
        return found


def _hook_raised(event: events.MessageHookRaised) -> Trap:
    mule = event.mule_id
    if event.mulefunc:
        text = (
            f"@mulefunc {event.mulefunc}() raised {event.error} in mule {mule}. uWSGI prints the "
            "traceback and goes on: the call is lost, and the caller, which returned at once, never hears of it."
        )
    elif event.error == "UnpicklingError":
        text = (
            f"Signal-mode mule {mule} took a plain message and its mule_msg_hook failed to unpickle it: "
            "importing uwsgidecorators makes every signal-mode mule a pickle consumer (uWSGI issue "
            "#624). Send plain messages to a programmed mule by id, not to any mule."
        )
    else:
        text = (
            f"The mule_msg_hook of mule {mule} raised {event.error}. uWSGI prints the traceback and "
            "goes on: the message is lost."
        )
    return Trap(f"hook:{mule}", text)


def _dropped(event: events.MessageDropped) -> list[Trap]:
    if event.reason == "queue full":
        where = "any mule" if event.target == 0 else (
            f"farm {event.target}" if isinstance(event.target, str) else f"mule {event.target}"
        )
        return [
            Trap(
                f"full:{where}",
                f"The queue of {where} is full, so mule_msg() returned False and the message is lost. "
                "uWSGI never blocks or retries: the reader is too slow, or is not reading at all.",
            )
        ]
    if event.reason == "too large":
        return [
            Trap(
                "too-large",
                f"A {event.size}-byte message is larger than the queue's buffer allows: mule_msg() "
                "returned False. Raise --mule-msg-size, or send a reference instead of the data.",
            )
        ]
    if event.reason == "bad mule id":
        return [
            Trap(
                f"bad-id:{event.target}",
                f"mule_msg() to mule {event.target}, which does not exist. uWSGI 2.0 does no range check "
                "here and may crash the sender; muletui returns False.",
            )
        ]
    return []
