"""A shared-memory block of counters: a header, one record per stack process, one per lock,
and one row of queue counters per sender.

Slot 0 belongs to the stack root (uWSGI's master side), slot N to mule N, slot M+W to worker W
(M mules). Each process writes
only its own record and its own row of queue counters, the master samples the whole block.
Writing is a memoryview item store: no syscall, no lock, nothing for a sender to wait on.
Values are unsigned 64-bit words; torn reads are impossible on 64-bit platforms. Deadlines are ``time.monotonic_ns()`` values, which
every process on the machine reads from the same clock.
"""

from __future__ import annotations

import mmap
import os
from enum import IntEnum


class Field(IntEnum):
    """Word offsets inside one process record."""

    PID = 0
    MSGS_IN = 1
    MSGS_OUT = 2
    MSGS_DROPPED = 3  # mule_msg calls from this process that returned False
    ACTIVITY = 4
    ACTIVITY_ARG = 5
    SIGNALS_HANDLED = 6
    EVENTS_DROPPED = 7  # reports skipped by the rate budget or a full report socket
    HARAKIRI_AT = 8  # --mule-harakiri deadline of the signal handler running now, or 0
    HARAKIRI_SIGNAL = 9
    USER_HARAKIRI_AT = 10  # uwsgi.set_user_harakiri() deadline, or 0
    LOCKS_HELD = 11  # bit n set while a thread of this process holds lock n (n < 64)
    REQUESTS = 12  # workers: requests served by the slot's incarnations (remote signals included)
    TX = 13  # workers: bytes sent (headers and bodies)
    RUNNING_TIME = 14  # workers: microseconds spent serving requests
    EXCEPTIONS = 15  # workers: requests whose app raised
    AVG_RT = 16  # workers: uWSGI's running average of request times, µs: (average + this one) // 2


RECORD_WORDS = len(Field)


class Activity(IntEnum):
    """What a stack process is doing right now, as far as the shim can see."""

    IDLE = 0
    RUNNING = 1  # in its own program code
    WAITING_MESSAGE = 2  # blocked in mule_get_msg; ACTIVITY_ARG = 1 if it takes signals too
    WAITING_FARM = 3  # blocked in farm_get_msg
    HANDLING_MESSAGE = 4  # signal-mode mule running mule_msg_hook
    WAITING_SIGNAL = 5  # blocked in signal_wait
    HANDLING_SIGNAL = 6  # ACTIVITY_ARG = signal number
    WAITING_LOCK = 7  # ACTIVITY_ARG = lock number
    SERVING_REQUEST = 8  # a worker between accept and the request's log line (uWSGI's "busy")


class HeaderFlag(IntEnum):
    """Words of the header."""

    DETAIL_EVENTS = 0  # written by the master: non-zero asks for per-message and per-lock reports
    TIMERS = 1  # entries of uWSGI's 64-entry tables, counted across processes
    RB_TIMERS = 2
    CRONS = 3
    FILE_MONITORS = 4


HEADER_WORDS = len(HeaderFlag)


class LockField(IntEnum):
    """Word offsets inside one lock record."""

    HOLDER_PID = 0  # uWSGI's bookkeeping: 0 when free, and after a foreign unlock() (its quirk)
    HOLDER_TID = 1
    OWNER_PID = 2  # who really holds it: cleared only by the owner's unlock(), so a non-zero
    OWNER_TID = 3  # owner when the next lock() succeeds means the owner died holding it


LOCK_WORDS = len(LockField)


def queue_count(mules: int, farms: int) -> int:
    """How many message queues a stack has; queue 0 is the shared one, queue N (1..mules) mule
    N's own, queue ``mules + F`` the farm with 1-based index F."""
    return 1 + mules + farms


class StatsBlock:
    """The mapped block; ``words`` is a flat ``memoryview`` of unsigned 64-bit integers.

    Queue counters: a message queue (a SOCK_SEQPACKET pair) tells its bytes (``SIOCINQ``) but
    not how many messages they are. So every sender counts the messages it queued on each
    queue, and every reader the messages it took: a queue's depth is the sum of one minus the
    sum of the other. Each slot has a row of ``queues`` sent and ``queues`` read counters;
    the row after the last slot is the master's (messages sent from the console).
    """

    def __init__(self, fd: int, slots: int, locks: int, queues: int = 0) -> None:
        self.fd = fd
        self.slots = slots
        self.locks = locks
        self.queues = queues
        self._map = mmap.mmap(fd, self.size(slots, locks, queues))
        self.words = memoryview(self._map).cast("Q")

    @staticmethod
    def size(slots: int, locks: int, queues: int = 0) -> int:
        return (HEADER_WORDS + slots * RECORD_WORDS + locks * LOCK_WORDS + (slots + 1) * 2 * queues) * 8

    @classmethod
    def create(cls, slots: int, locks: int = 1, queues: int = 0) -> StatsBlock:
        """Create an anonymous block for ``slots`` processes, ``locks`` locks and ``queues``
        message queues."""
        fd = os.memfd_create("muletui-stats", 0)
        os.ftruncate(fd, cls.size(slots, locks, queues))
        return cls(fd, slots, locks, queues)

    @staticmethod
    def offset(slot: int, field: Field) -> int:
        """Index into ``words`` of ``field`` in the record of ``slot``."""
        return HEADER_WORDS + slot * RECORD_WORDS + field

    def lock_offset(self, lock: int, field: LockField) -> int:
        return HEADER_WORDS + self.slots * RECORD_WORDS + lock * LOCK_WORDS + field

    def sent_offset(self, slot: int, queue: int) -> int:
        """Index into ``words`` of the messages ``slot`` queued on ``queue`` (slot ``slots``:
        the master)."""
        return HEADER_WORDS + self.slots * RECORD_WORDS + self.locks * LOCK_WORDS + slot * 2 * self.queues + queue

    def read_offset(self, slot: int, queue: int) -> int:
        """Index into ``words`` of the messages ``slot`` took from ``queue``."""
        return self.sent_offset(slot, queue) + self.queues

    def queue_depth(self, queue: int) -> int:
        """Messages on ``queue`` now: all sent minus all read, never below 0.

        Reads are summed first, so traffic while the block is read can only make the depth
        high for that instant, never negative. A process killed between its ``write`` (or
        ``read``) and its count leaves the depth one off for good: exact otherwise.
        """
        read = sum(self.words[self.read_offset(slot, queue)] for slot in range(self.slots))
        sent = sum(self.words[self.sent_offset(slot, queue)] for slot in range(self.slots + 1))
        return max(0, sent - read)

    def get(self, slot: int, field: Field) -> int:
        return self.words[self.offset(slot, field)]

    def set(self, slot: int, field: Field, value: int) -> None:
        self.words[self.offset(slot, field)] = value

    def flag(self, flag: HeaderFlag) -> int:
        return self.words[flag]

    def set_flag(self, flag: HeaderFlag, value: int) -> None:
        self.words[flag] = value

    def record(self, slot: int) -> tuple[int, ...]:
        """A copy of one record, indexed by :class:`Field`."""
        start = HEADER_WORDS + slot * RECORD_WORDS
        return tuple(self.words[start : start + RECORD_WORDS])

    def lock_holder(self, lock: int) -> tuple[int, int]:
        """``(pid, thread id)`` recorded for ``lock``; ``(0, 0)`` when none is recorded."""
        return (
            self.words[self.lock_offset(lock, LockField.HOLDER_PID)],
            self.words[self.lock_offset(lock, LockField.HOLDER_TID)],
        )

    def close(self) -> None:
        self.words.release()
        self._map.close()
        os.close(self.fd)


def worker_status(activity: int, arg: int) -> str:
    """uWSGI's stats ``status`` of a worker: ``busy`` serving a request, ``sigN`` running signal
    N's handler, else ``idle``."""
    if activity == Activity.SERVING_REQUEST:
        return "busy"
    if activity == Activity.HANDLING_SIGNAL:
        return f"sig{arg}"
    return "idle"
