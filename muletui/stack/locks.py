"""uWSGI's user locks (``--locks N``): ``lock``, ``unlock``, ``is_locked`` for locks 0..N.

uWSGI uses process-shared robust pthread mutexes owned per thread. Here each lock is one byte
of a shared memfd, taken with an open-file-description (OFD) record lock; every thread opens
its own description, so ownership is per thread, and the kernel drops a dead holder's lock.
The holder recorded in the stats block gives uWSGI's bookkeeping quirks (§5): a foreign
``unlock()`` clears it so ``is_locked()`` says ``False``, and the next ``lock()`` after a holder
died logs the deadlock detector's line.
"""

from __future__ import annotations

import errno
import fcntl
import os
import threading

from muletui.ipc import reports
from muletui.ipc.stats_block import Activity, Field, HeaderFlag, LockField
from muletui.stack.context import Context, log, warn
from muletui.stack.signals import record_lock

_context: Context | None = None
_local = threading.local()


def bind(context: Context) -> None:
    """After fork a thread must not reuse its parent's descriptions: it would share ownership."""
    global _context, _local
    _context = context
    _local = threading.local()


def _thread_state() -> tuple[int, set[int]]:
    fd = getattr(_local, "fd", None)
    if fd is None:
        assert _context is not None
        fd = _local.fd = os.open(f"/proc/self/fd/{_context.spec.lock_fd}", os.O_RDWR | os.O_CLOEXEC)
        _local.held = set()
    return fd, _local.held


def _lock_number(num: object) -> int:
    if not isinstance(num, int):
        raise TypeError(f"'{type(num).__name__}' object cannot be interpreted as an integer")
    assert _context is not None
    if not 0 <= num <= _context.spec.locks:
        raise ValueError("Invalid lock number")
    return int(num)


def _report(operation: str, lock_id: int) -> None:
    assert _context is not None
    if _context.stats.words[HeaderFlag.DETAIL_EVENTS]:
        _context.reporter.send((reports.LOCK, _context.slot, lock_id, operation, threading.get_native_id()))


def lock(num: object = 0, /) -> None:
    """Take lock ``num``, waiting as long as it takes (the lock is not recursive)."""
    lock_id = _lock_number(num)
    assert _context is not None
    fd, held = _thread_state()
    words = _context.stats.words
    if lock_id in held:
        warn(
            f"lock({lock_id}) taken twice by the same thread: uWSGI's lock is not recursive and "
            "this deadlocks forever, in uWSGI as here"
        )
        threading.Event().wait()
    try:
        fcntl.fcntl(fd, fcntl.F_OFD_SETLK, record_lock(fcntl.F_WRLCK, lock_id))
    except OSError as error:
        if error.errno not in (errno.EAGAIN, errno.EACCES):
            raise
        _report("wait", lock_id)
        words[_context.index(Field.ACTIVITY)] = Activity.WAITING_LOCK
        words[_context.index(Field.ACTIVITY_ARG)] = lock_id
        try:
            fcntl.fcntl(fd, fcntl.F_OFD_SETLKW, record_lock(fcntl.F_WRLCK, lock_id))
        finally:
            words[_context.index(Field.ACTIVITY)] = Activity.RUNNING
    stats = _context.stats
    if stats.lock_holder(lock_id)[0]:
        log("[deadlock-detector] a process holding a robust mutex died. recovering...")
    words[stats.lock_offset(lock_id, LockField.HOLDER_PID)] = os.getpid()
    words[stats.lock_offset(lock_id, LockField.HOLDER_TID)] = threading.get_native_id()
    if lock_id < 64:
        words[_context.index(Field.LOCKS_HELD)] |= 1 << lock_id
    held.add(lock_id)
    _report("acquired", lock_id)


def unlock(num: object = 0, /) -> None:
    """Release lock ``num`` if this thread holds it; otherwise uWSGI's silent no-op (see module)."""
    lock_id = _lock_number(num)
    assert _context is not None
    fd, held = _thread_state()
    stats = _context.stats
    stats.words[stats.lock_offset(lock_id, LockField.HOLDER_PID)] = 0
    if lock_id not in held:
        return None
    held.discard(lock_id)
    stats.words[stats.lock_offset(lock_id, LockField.HOLDER_TID)] = 0
    if lock_id < 64:
        stats.words[_context.index(Field.LOCKS_HELD)] &= ~(1 << lock_id)
    fcntl.fcntl(fd, fcntl.F_OFD_SETLK, record_lock(fcntl.F_UNLCK, lock_id))
    _report("released", lock_id)
    return None


def is_locked(num: object = 0, /) -> bool:
    """``True`` if lock ``num`` is held (also by the caller). ``False`` once a foreign ``unlock``
    cleared the holder, as in uWSGI; and, unlike uWSGI, never takes a dead holder's lock.
    """
    lock_id = _lock_number(num)
    assert _context is not None
    if not _context.stats.lock_holder(lock_id)[0]:
        return False
    fd = os.open(f"/proc/self/fd/{_context.spec.lock_fd}", os.O_RDWR | os.O_CLOEXEC)
    try:
        answer = fcntl.fcntl(fd, fcntl.F_OFD_GETLK, record_lock(fcntl.F_WRLCK, lock_id))
    finally:
        os.close(fd)
    return int.from_bytes(answer[:2], "little", signed=True) != fcntl.F_UNLCK
