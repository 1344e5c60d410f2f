"""A shared-memory block of counters, one fixed-size record per stack process slot.

Slot 0 belongs to the stack root (uWSGI's master side), slot N to mule N. Each process writes
only its own record, the master samples the whole block. Writing is a memoryview item store: no syscall, no lock, nothing for a sender to
wait on. Values are unsigned 64-bit words; torn reads are impossible on 64-bit platforms.
"""

from __future__ import annotations

import mmap
import os
from enum import IntEnum


class Field(IntEnum):
    """Word offsets inside one record."""

    PID = 0
    MSGS_IN = 1
    MSGS_OUT = 2
    MSGS_DROPPED = 3  # mule_msg calls from this process that returned False
    ACTIVITY = 4
    ACTIVITY_ARG = 5
    SIGNALS_HANDLED = 6
    EVENTS_DROPPED = 7  # per-message reports skipped by the rate budget


RECORD_WORDS = len(Field)


class Activity(IntEnum):
    """What a stack process is doing right now, as far as the shim can see."""

    IDLE = 0
    RUNNING = 1  # in its own program code
    WAITING_MESSAGE = 2  # blocked in mule_get_msg
    WAITING_FARM = 3  # blocked in farm_get_msg
    HANDLING_MESSAGE = 4  # signal-mode mule running mule_msg_hook
    WAITING_SIGNAL = 5
    HANDLING_SIGNAL = 6  # ACTIVITY_ARG = signal number
    WAITING_LOCK = 7  # ACTIVITY_ARG = lock number


class HeaderFlag(IntEnum):
    """Words of the header record (slot -1), written by the master only."""

    MESSAGE_EVENTS = 0  # non-zero: stack processes report every message sent/received


HEADER_WORDS = RECORD_WORDS


class StatsBlock:
    """The mapped block; ``words`` is a flat ``memoryview`` of unsigned 64-bit integers."""

    def __init__(self, fd: int, slots: int) -> None:
        self.fd = fd
        self.slots = slots
        size = (HEADER_WORDS + slots * RECORD_WORDS) * 8
        self._map = mmap.mmap(fd, size)
        self.words = memoryview(self._map).cast("Q")

    @classmethod
    def create(cls, slots: int) -> StatsBlock:
        """Create an anonymous block for ``slots`` records (the fd is inheritable by children)."""
        fd = os.memfd_create("muletui-stats", 0)
        os.ftruncate(fd, (HEADER_WORDS + slots * RECORD_WORDS) * 8)
        return cls(fd, slots)

    @staticmethod
    def offset(slot: int, field: Field) -> int:
        """Index into ``words`` of ``field`` in the record of ``slot``."""
        return HEADER_WORDS + slot * RECORD_WORDS + field

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

    def close(self) -> None:
        self.words.release()
        self._map.close()
        os.close(self.fd)
