"""The console's state outside any widget: log ring buffers, message history, hints, flashes.

Fed with engine event batches (:meth:`ConsoleModel.apply`) and stack snapshots
(:meth:`ConsoleModel.observe`); widgets read it when they repaint, a few times a second.
Memory is bounded: every buffer is a ring with a fixed cap, and what falls off is counted.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from muletui.engine import events
from muletui.engine.snapshot import StackSnapshot
from muletui.ipc.stats_block import Activity

MASTER = 0  # log source id of the master and the stack root


@dataclass(frozen=True, slots=True)
class LogLine:
    """One line of the log pane. ``stream`` is ``out``, ``err`` or ``sys`` (the master's own)."""

    wall: float
    mule_id: int
    stream: str
    text: str


class LogBuffer:
    """One ring per source (mule id, 0 for the master) plus the interleaved ring of all.

    History per mule survives its restarts (keyed by id, not pid) and view switches.
    """

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.all: deque[LogLine] = deque(maxlen=cap)
        self.sources: dict[int, deque[LogLine]] = {}
        self.dropped: dict[int | None, int] = {}  # None: the interleaved ring
        self.added: dict[int | None, int] = {}  # lines ever added per source, None: all
        self.events_lost = 0  # events the console's subscription dropped: it fell behind the stack

    def add(self, lines: Iterable[LogLine]) -> None:
        for line in lines:
            ring = self.sources.get(line.mule_id)
            if ring is None:
                ring = self.sources[line.mule_id] = deque(maxlen=self.cap)
            if len(ring) == self.cap:
                self.dropped[line.mule_id] = self.dropped.get(line.mule_id, 0) + 1
            if len(self.all) == self.cap:
                self.dropped[None] = self.dropped.get(None, 0) + 1
            ring.append(line)
            self.all.append(line)
            self.added[line.mule_id] = self.added.get(line.mule_id, 0) + 1
            self.added[None] = self.added.get(None, 0) + 1

    def view(self, source: int | None) -> deque[LogLine]:
        """The lines of one source, or all interleaved (``None``)."""
        if source is None:
            return self.all
        return self.sources.setdefault(source, deque(maxlen=self.cap))

    def clear(self) -> None:
        self.all.clear()
        for ring in self.sources.values():
            ring.clear()


@dataclass
class MessageRecord:
    """One row of the message history: ``kind`` is sent, received or dropped. A sent row's
    ``fate`` goes from queued to who took it, once a mule reads it."""

    wall: float
    kind: str
    who: str  # sender ("master", "mule 2", "console") or receiver ("mule 1")
    where: str  # target ("mule 1", "any mule", "farm busy") or queue ("own", "shared")
    size: int
    preview: str
    fate: str
    seq: int = 0  # its place in the history, from 1


@dataclass
class Hint:
    """A uWSGI trap the console noticed, explained once and counted after that."""

    key: str
    text: str
    count: int = 1
    wall: float = field(default_factory=time.time)


def _target_name(target: int | str) -> str:
    if isinstance(target, str):
        return f"farm {target}"
    return "any mule" if target == 0 else f"mule {target}"


def _sender_name(sender: int) -> str:
    return "console" if sender < 0 else ("master" if sender == 0 else f"mule {sender}")


#: How many queued sends a receipt is compared with: reports over the budget may be missing,
#: and readers of a shared or farm queue report in their own order.
_SETTLE_LOOKAHEAD = 8


class ConsoleModel:
    """Everything the console shows that is not read live from the engine."""

    def __init__(self, log_cap: int = 10_000, history_cap: int = 1_000) -> None:
        self.log = LogBuffer(log_cap)
        self.messages: deque[MessageRecord] = deque(maxlen=history_cap)
        self.messages_added = 0
        self.hints: dict[str, Hint] = {}
        self.latest_hint: Hint | None = None
        self.flashes: dict[tuple[str, int], float] = {}  # (timer kind, index) -> monotonic fire time
        self.snapshot: StackSnapshot | None = None
        self.modes: dict[int, str] = {}  # mule id -> "signal" | script | callable
        self.stopped_report: dict[str, tuple[int, int]] | None = None
        self.failure: str | None = None
        self._pending_seen: dict[int, int] = {}
        # sent rows whose fate changed, for the table to repaint (past the cap it rebuilds anyway)
        self.settled: deque[MessageRecord] = deque(maxlen=history_cap)
        self._in_flight: dict[str, deque[MessageRecord]] = {}  # queue ("mule 1", "any mule", "farm f") -> sent rows

    # -- events ------------------------------------------------------------------------------

    def apply(self, batch: list[events.Event]) -> None:
        log_lines: list[LogLine] = []
        for event in batch:
            if isinstance(event, events.OutputLines):
                log_lines += [LogLine(line.wall, event.mule_id, event.stream, line.text) for line in event.lines]
            elif isinstance(event, events.MasterLog):
                log_lines.append(LogLine(event.wall, MASTER, "sys", event.text))  # published, not applied
            elif isinstance(event, events.StackWarning):
                log_lines.append(LogLine(event.wall, event.mule_id, "sys", f"muletui warning: {event.text}"))
                if "crashing in a loop" in event.text:
                    self.hint(
                        f"loop{event.mule_id}",
                        f"Mule {event.mule_id} keeps exiting right after it starts. uWSGI would respawn it "
                        "every second forever; muletui backs off. A programmed mule must never return: "
                        "loop on mule_get_msg() or signal_wait().",
                    )
            else:
                self._apply_other(event)
        if log_lines:
            self.log.add(log_lines)

    def _apply_other(self, event: events.Event) -> None:
        if isinstance(event, events.MessageSent):
            where = _target_name(event.target)
            record = self._message("sent", _sender_name(event.sender), where, event.size, event.preview, "queued")
            flying = self._in_flight.setdefault(where, deque(maxlen=self.messages.maxlen))
            flying.append(record)
        elif isinstance(event, events.MessageDropped):
            self._message(
                "dropped", _sender_name(event.sender), _target_name(event.target), event.size, "", event.reason
            )
            self._hint_dropped(event)
        elif isinstance(event, events.MessageReceived):
            self._received(event)
            self._hint_received(event)
        elif isinstance(event, events.TimerFired):
            self.flashes[(event.timer_kind, event.index)] = event.t
        elif isinstance(event, events.StackStopped):
            self.stopped_report = event.left_queued
        elif isinstance(event, events.StackFailed):
            self.failure = event.reason

    def _message(self, kind: str, who: str, where: str, size: int, preview: str, fate: str) -> MessageRecord:
        self.messages_added += 1
        record = MessageRecord(time.time(), kind, who, where, size, preview, fate, self.messages_added)
        self.messages.append(record)
        return record

    def _settle(self, queue: str, event: events.MessageReceived) -> MessageRecord | None:
        """Take the queued send this receipt read: the oldest of the first few that agree in
        size (or in the read part, when truncated) and preview; ``None`` if none does."""
        flying = self._in_flight.get(queue)
        if not flying:
            return None
        for index, sent in enumerate(list(flying)[:_SETTLE_LOOKAHEAD]):
            sized = sent.size == event.size or (event.maybe_truncated and sent.size >= event.size)
            if sized and (sent.preview.startswith(event.preview) or event.preview.startswith(sent.preview)):
                del flying[index]
                return sent
        return None

    def _received(self, event: events.MessageReceived) -> None:
        """A receipt settles the oldest queued send on that queue (queues are FIFO), if its size
        and preview agree: events over the reporting budget may be missing on either side."""
        queue = {"own": f"mule {event.mule_id}", "shared": "any mule"}.get(event.queue, f"farm {event.queue}")
        taker = f"mule {event.mule_id}"
        fate = "dropped: signal-mode mule, no mule_msg_hook" if event.swallowed else "received"
        sent = self._settle(queue, event)
        if sent is not None:
            sent.fate = f"dropped by {taker}: signal mode, no mule_msg_hook" if event.swallowed else f"received by {taker}"
            self.settled.append(sent)
            fate += f" (from {sent.who})"
        self._message("received", taker, event.queue, event.size, event.preview, fate)

    def _hint_dropped(self, event: events.MessageDropped) -> None:
        where = _target_name(event.target)
        if event.reason == "queue full":
            self.hint(
                f"full:{where}",
                f"The queue of {where} is full, so mule_msg() returned False and the message is lost. "
                "uWSGI never blocks or retries: the reader is too slow, or is not reading at all.",
            )
        elif event.reason == "too large":
            self.hint(
                "too-large",
                f"A {event.size}-byte message is larger than the queue's buffer allows: mule_msg() "
                "returned False. Raise --mule-msg-size, or send a reference instead of the data.",
            )
        elif event.reason == "bad mule id":
            self.hint(
                f"bad-id:{event.target}",
                f"mule_msg() to mule {event.target}, which does not exist. uWSGI 2.0 does no range check "
                "here and may crash the sender; muletui returns False.",
            )

    def _hint_received(self, event: events.MessageReceived) -> None:
        if event.maybe_truncated:
            self.hint(
                f"truncated:{event.mule_id}",
                f"Mule {event.mule_id} read a message exactly as long as its buffer ({event.size} bytes): "
                "it was probably truncated, and the rest is lost. Pass a larger buffer_size.",
            )
        if event.queue != "own" and self.modes.get(event.mule_id) == "signal":
            self.hint(
                f"swallowed:{event.mule_id}",
                f"Signal-mode mule {event.mule_id} took a message from the {event.queue} queue. It hands it "
                "to uwsgi.mule_msg_hook or drops it: id-less and farm messages go to whichever mule "
                "reads first, not to 'the first programmed mule' as the docs say.",
            )

    def hint(self, key: str, text: str) -> None:
        existing = self.hints.get(key)
        if existing is None:
            existing = self.hints[key] = Hint(key, text)
        else:
            existing.count += 1
            existing.wall = time.time()
        self.latest_hint = existing

    # -- snapshots ---------------------------------------------------------------------------

    def observe(self, snapshot: StackSnapshot) -> None:
        """A fresh snapshot: keep it, and look for traps only visible in state."""
        self.snapshot = snapshot
        for mule in snapshot.mules:
            self.modes[mule.mule_id] = "signal" if mule.mode == "signal" else "program"
            deaf = mule.activity is Activity.WAITING_MESSAGE and not mule.activity_arg
            growing = mule.signals_pending > self._pending_seen.get(mule.mule_id, 0)
            self._pending_seen[mule.mule_id] = mule.signals_pending
            if deaf and growing:
                self.hint(
                    f"deaf:{mule.mule_id}",
                    f"{mule.signals_pending} signal(s) are piling up for mule {mule.mule_id}: it waits in "
                    "mule_get_msg() with the default signals=True, which in uWSGI 2.0 means it does NOT "
                    "take signals (the flag is inverted). Use mule_get_msg(signals=False) or signal_wait().",
                )
