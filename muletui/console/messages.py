"""The console's message history: a row per send, receipt and drop, and each sent row's fate.

A send and its receipt are reported by different processes, each in batches and within a rate
budget, and the console's subscription may drop events when it falls behind: a receipt can
arrive before the send it settles, and either report can be missing. So every sent row settles,
whatever the order and whatever is lost, to one of:

- ``received by mule N`` (with ``(hook raised)`` when a signal-mode mule's ``mule_msg_hook``
  raised on it, ``(cut to N B)`` when the reader's buffer truncated it);
- ``dropped by mule N (no hook)``: a signal-mode mule without ``mule_msg_hook`` read it;
- ``read by mule N (report lost)`` (``by a mule``, ``by farm F``): it is known to have been read,
  but its receipt never came;
- ``left queued at stop``.

Sends wait for receipts and receipts for sends, per queue, matched by size and preview, oldest
first: the queues are FIFO, so among identical messages the oldest was read first. What waits is
bounded by the history's cap, per queue (past it, the oldest waiting rows have left the history
anyway), and cleans itself: a receipt whose send never comes is forgotten after
:data:`SEND_WAIT`, and a send whose receipt was lost is settled once the queue shows it must have
been read: a later message of the same queue was read, or a snapshot found the queue empty (a
receipt that comes after all corrects it). Nothing unmatched blocks the matching of others.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from muletui.engine import events

#: Seconds by which the order reports arrive in may differ from the order messages entered a
#: queue: a mule sends its reports in batches, at most 20 ms after the first, and a busy master
#: reads them later still. A send that arrived this much before another was queued before it.
REORDER_SLACK = 0.5
#: Seconds a send known to have been read waits for its receipt before it is settled as read
#: with its report lost: the receipt may still be in a reader's batch.
RECEIPT_GRACE = 1.0
#: Seconds a receipt waits for its send's report, which may have been lost.
SEND_WAIT = 30.0

LOST = " (report lost)"
LEFT_AT_STOP = "left queued at stop"

Key = tuple[int, str]  # size, preview: what a send and its receipt share


@dataclass(eq=False)
class MessageRecord:
    """One row of the message history: ``kind`` is sent, received or dropped. A sent row's
    ``fate`` starts as ``queued`` and settles as the module docstring says; a received row's
    says what became of the message there, and who sent it once that is known."""

    wall: float
    kind: str
    who: str  # sender ("master", "mule 2", "console") or receiver ("mule 1")
    where: str  # target ("mule 1", "any mule", "farm busy") or queue ("own", "shared", a farm)
    size: int
    preview: str
    fate: str
    seq: int = 0  # its place in the history, from 1


class _Waiter(Protocol):
    serial: int
    key: Key


@dataclass(eq=False)
class _Send:
    record: MessageRecord
    t: float  # when its report reached the master (monotonic)
    key: Key
    serial: int


@dataclass(eq=False)
class _Read:
    record: MessageRecord
    t: float
    key: Key
    serial: int
    queue: str  # "mule 1", "any mule", "farm busy"
    taker: str  # "mule 2"
    swallowed: bool
    maybe_truncated: bool
    hook_raised: bool = False  # mule_msg_hook raised on it
    sent: MessageRecord | None = None  # the sent row it settled


W = TypeVar("W", bound=_Waiter)


class _Waiting(Generic[W]):
    """Items waiting for their other half: oldest first, the oldest of a key found at once, at
    most ``cap`` (adding one more forgets the oldest)."""

    def __init__(self, cap: int) -> None:
        self._cap = cap
        self._all: dict[int, W] = {}  # by serial: insertion order is age order
        self._by_key: dict[Key, dict[int, W]] = {}

    def __len__(self) -> int:
        return len(self._all)

    def __iter__(self) -> Iterator[W]:
        """Oldest first, over a copy: the caller may remove items as it goes."""
        return iter(list(self._all.values()))

    def add(self, item: W) -> None:
        if len(self._all) >= self._cap:
            self.remove(next(iter(self._all.values())))
        self._all[item.serial] = item
        self._by_key.setdefault(item.key, {})[item.serial] = item

    def oldest(self) -> W | None:
        return next(iter(self._all.values()), None)

    def take(self, key: Key) -> W | None:
        """Remove and return the oldest item of ``key``, if any."""
        same = self._by_key.get(key)
        if not same:
            return None
        item = next(iter(same.values()))
        self.remove(item)
        return item

    def take_first(self, match: Callable[[W], bool]) -> W | None:
        """Remove and return the oldest item ``match`` accepts, if any (a scan: for the rare
        receipts of messages that may have been cut short)."""
        item = next((item for item in self._all.values() if match(item)), None)
        if item is not None:
            self.remove(item)
        return item

    def remove(self, item: W) -> None:
        del self._all[item.serial]
        same = self._by_key[item.key]
        del same[item.serial]
        if not same:
            del self._by_key[item.key]


@dataclass(eq=False)
class _Queue:
    """One queue's sends without a receipt and receipts without a send."""

    cap: int
    sends: _Waiting[_Send] = field(init=False)
    presumed: _Waiting[_Send] = field(init=False)  # settled as read, report lost: a late receipt corrects them
    reads: _Waiting[_Read] = field(init=False)
    cut_reads: _Waiting[_Read] = field(init=False)  # receipts of messages that may have been cut short
    horizons: deque[tuple[float, float]] = field(default_factory=deque)  # (seen at, sends before this were read)
    read_before: float = float("-inf")  # sends that arrived before this (monotonic) were read: confirmed

    def __post_init__(self) -> None:
        self.sends, self.presumed = _Waiting(self.cap), _Waiting(self.cap)
        self.reads, self.cut_reads = _Waiting(self.cap), _Waiting(self.cap)

    def learn(self, seen_at: float, horizon: float) -> None:
        """Sends that arrived before ``horizon`` were read (known at ``seen_at``). Horizons only
        grow, and there is one entry per tenth of a second, so a flood of receipts keeps this short."""
        if horizon <= self.read_before or (self.horizons and horizon <= self.horizons[-1][1]):
            return
        if self.horizons and seen_at - self.horizons[-1][0] < 0.1:
            self.horizons[-1] = (self.horizons[-1][0], horizon)
        else:
            self.horizons.append((seen_at, horizon))

    def take_send(self, read: _Read) -> _Send | None:
        """The send ``read`` settles: the oldest of its key (a send presumed read comes first: it
        is older), or for a receipt that may have been cut short, the oldest it may be a part of."""
        send = self.presumed.take(read.key) or self.sends.take(read.key)
        if send is None and read.maybe_truncated:
            send = self.presumed.take_first(lambda s: _compatible(s, read)) or self.sends.take_first(
                lambda s: _compatible(s, read)
            )
        return send

    def take_read(self, send: _Send) -> _Read | None:
        """The receipt, come first, that settles ``send``."""
        return self.reads.take(send.key) or (
            self.cut_reads.take_first(lambda r: _compatible(send, r)) if len(self.cut_reads) else None
        )


def _target_name(target: int | str) -> str:
    if isinstance(target, str):
        return f"farm {target}"
    return "any mule" if target == 0 else f"mule {target}"


def _sender_name(sender: int, worker_id: int = 0) -> str:
    """``console``, ``worker 2``, ``mule 1`` or ``master``: who sent a message."""
    if worker_id:
        return f"worker {worker_id}"
    return "console" if sender < 0 else ("master" if sender == 0 else f"mule {sender}")


def _queue_name(mule_id: int, queue: str) -> str:
    """The queue a mule read from, named as sends name their target."""
    if queue == "own":
        return f"mule {mule_id}"
    return "any mule" if queue == "shared" else f"farm {queue}"


def _lost_fate(queue: str) -> str:
    """A send known to be read, by whom the queue tells at best."""
    if queue == "any mule":
        return "read by a mule" + LOST
    return f"read by {queue}" + LOST


def _compatible(send: _Send, read: _Read) -> bool:
    """A receipt that may have been cut short matches a send at least as long with the same start."""
    (sent_size, sent_preview), (read_size, read_preview) = send.key, read.key
    return sent_size >= read_size and (sent_preview.startswith(read_preview) or read_preview.startswith(sent_preview))


class MessageHistory:
    """The last ``cap`` message rows, and the matching that settles each sent row's fate.

    Fed events with :meth:`apply` and queue depths with :meth:`queues_empty`; :meth:`sweep`
    settles what the clock says can be settled. Rows whose fate changed are listed in
    :attr:`changed` for the table (which counts :attr:`changes` to know when it missed some).
    """

    def __init__(self, cap: int) -> None:
        self.rows: deque[MessageRecord] = deque(maxlen=cap)
        self.added = 0  # rows ever added
        self.changed: deque[MessageRecord] = deque(maxlen=cap)
        self.changes = 0  # fate changes ever made
        self._cap = cap
        self._queues: dict[str, _Queue] = {}
        self._last_read: dict[int, _Read] = {}  # mule id -> its latest receipt, which a hook may raise on
        self._serial = 0
        self._clock = float("-inf")  # the latest monotonic time seen in events and snapshots

    # -- rows --------------------------------------------------------------------------------

    def _add(self, kind: str, who: str, where: str, size: int, preview: str, fate: str) -> MessageRecord:
        self.added += 1
        record = MessageRecord(time.time(), kind, who, where, size, preview, fate, self.added)
        self.rows.append(record)
        return record

    def _set_fate(self, record: MessageRecord, fate: str) -> None:
        if record.fate != fate:
            record.fate = fate
            self.changed.append(record)
            self.changes += 1

    def _queue(self, name: str) -> _Queue:
        queue = self._queues.get(name)
        if queue is None:
            queue = self._queues[name] = _Queue(self._cap)
        return queue

    def _next_serial(self) -> int:
        self._serial += 1
        return self._serial

    # -- events ------------------------------------------------------------------------------

    def apply(self, event: events.Event) -> None:
        """Fold one event in (others than message events and the stack's stop are ignored)."""
        self._clock = max(self._clock, event.t)
        if isinstance(event, events.MessageSent):
            self._sent(event)
        elif isinstance(event, events.MessageReceived):
            self._received(
                event.mule_id, event.queue, event.size, event.preview, event.t,
                swallowed=event.swallowed, truncated=event.maybe_truncated,
            )
        elif isinstance(event, events.MessageHookRaised):
            self._hook_raised(event)
        elif isinstance(event, events.MessageDropped):
            self._add("dropped", _sender_name(event.sender, event.worker_id), _target_name(event.target), event.size, "", event.reason)
        elif isinstance(event, events.StackStopped):
            self._stopped(event.left_queued)

    def _sent(self, event: events.MessageSent) -> None:
        where = _target_name(event.target)
        record = self._add("sent", _sender_name(event.sender, event.worker_id), where, event.size, event.preview, "queued")
        queue = self._queue(where)
        send = _Send(record, event.t, (event.size, event.preview), self._next_serial())
        read = queue.take_read(send)
        if read is None:
            queue.sends.add(send)
        else:
            self._settle(queue, send, read)

    def _received(
        self, mule_id: int, queue_seen: str, size: int, preview: str, t: float,
        *, swallowed: bool = False, truncated: bool = False, hook_raised: bool = False,
    ) -> None:
        taker = f"mule {mule_id}"
        record = self._add("received", taker, queue_seen, size, preview, _receipt_fate(swallowed, hook_raised, None))
        name = _queue_name(mule_id, queue_seen)
        read = _Read(record, t, (size, preview), self._next_serial(), name, taker, swallowed, truncated, hook_raised)
        self._last_read[mule_id] = read
        queue = self._queue(name)
        send = queue.take_send(read)
        if send is None:
            (queue.cut_reads if truncated else queue.reads).add(read)
        else:
            self._settle(queue, send, read)

    def _hook_raised(self, event: events.MessageHookRaised) -> None:
        """The hook raised on the mule's latest receipt; if that receipt's report was lost,
        this report stands for it."""
        read = self._last_read.get(event.mule_id)
        if read is None or read.key != (event.size, event.preview) or read.queue != _queue_name(event.mule_id, event.queue):
            self._received(event.mule_id, event.queue, event.size, event.preview, event.t, hook_raised=True)
            return
        read.hook_raised = True
        self._set_fate(read.record, _receipt_fate(False, True, read.sent.who if read.sent else None))
        if read.sent is not None:
            self._set_fate(read.sent, _sent_fate(read, read.sent.size))

    def _settle(self, queue: _Queue, send: _Send, read: _Read) -> None:
        read.sent = send.record
        self._set_fate(send.record, _sent_fate(read, send.record.size))
        self._set_fate(read.record, _receipt_fate(read.swallowed, read.hook_raised, send.record.who))
        # FIFO: what arrived well before this send was queued before it, so it was read before it
        queue.learn(self._clock, send.t - REORDER_SLACK)

    def _stopped(self, left_queued: dict[str, tuple[int, int]]) -> None:
        """The stack stopped: of each queue's unsettled sends, the newest as many as were left in
        it were left queued; the others were read, their reports lost."""
        left = {("any mule" if name == "shared" else name): count for name, (count, _bytes) in left_queued.items()}
        for name, queue in self._queues.items():
            waiting = list(queue.sends)
            read = max(0, len(waiting) - left.get(name, 0))
            for send in waiting[:read]:
                self._set_fate(send.record, _lost_fate(name))
            for send in waiting[read:]:
                self._set_fate(send.record, LEFT_AT_STOP)
        self._queues.clear()
        self._last_read.clear()

    # -- what the clock and the queues tell ---------------------------------------------------

    def queues_empty(self, names: Iterable[str], now: float) -> None:
        """A snapshot at ``now`` (monotonic) found these queues empty: every send that arrived
        before ``now`` was read by then."""
        self._clock = max(self._clock, now)
        for name in names:
            queue = self._queues.get(name)
            if queue is not None and len(queue.sends):
                queue.learn(now, now)

    def sweep(self) -> None:
        """Settle the sends known to be read whose receipts are overdue; forget receipts whose
        sends are overdue."""
        now = self._clock
        for name, queue in self._queues.items():
            while queue.horizons and queue.horizons[0][0] <= now - RECEIPT_GRACE:
                queue.read_before = max(queue.read_before, queue.horizons.popleft()[1])
            while (send := queue.sends.oldest()) is not None and send.t < queue.read_before:
                queue.sends.remove(send)
                self._set_fate(send.record, _lost_fate(name))
                queue.presumed.add(send)
            for reads in (queue.reads, queue.cut_reads):
                while (read := reads.oldest()) is not None and read.t < now - SEND_WAIT:
                    reads.remove(read)


def _sent_fate(read: _Read, sent_size: int) -> str:
    if read.swallowed:
        return f"dropped by {read.taker} (no hook)"
    fate = f"received by {read.taker}"
    if read.hook_raised:
        return fate + " (hook raised)"
    if read.maybe_truncated and sent_size > read.key[0]:
        return fate + f" (cut to {read.key[0]} B)"
    return fate


def _receipt_fate(swallowed: bool, hook_raised: bool, sender: str | None) -> str:
    """A received row's fate, with its sender once the send is matched."""
    fate = "dropped: no hook" if swallowed else ("hook raised" if hook_raised else "received")
    return fate if sender is None else f"{fate} (from {sender})"
