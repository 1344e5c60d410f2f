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
_MAX_INT = 2**31 - 1


class _ThreadLocks:
    """A thread's own open file description of the lock file, and the locks it holds.

    Kept in a ``threading.local``: when the thread ends, CPython drops it, the description is
    closed and the kernel releases what the thread held, as a robust mutex does for a dead
    owner; the next ``lock()`` then logs the deadlock detector's line.
    """

    def __init__(self, lock_fd: int) -> None:
        self.fd = os.open(f"/proc/self/fd/{lock_fd}", os.O_RDWR | os.O_CLOEXEC)
        self.pid = os.getpid()
        self.held: set[int] = set()

    def __del__(self) -> None:
        if self.pid == os.getpid():
            os.close(self.fd)


def bind(context: Context) -> None:
    """After fork a thread must not reuse its parent's descriptions: it would share ownership."""
    global _context, _local
    _context = context
    _local = threading.local()


def _thread_state() -> _ThreadLocks:
    state: _ThreadLocks | None = getattr(_local, "state", None)
    if state is None:
        assert _context is not None
        state = _local.state = _ThreadLocks(_context.spec.lock_fd)
    return state


def _lock_number(function: str, args: tuple[object, ...], kwargs: dict[str, object]) -> int:
    """uWSGI's ``|i`` argument: one optional int, positional only, within a C int."""
    if kwargs:
        raise TypeError(f"{function}() takes no keyword arguments")
    if len(args) > 1:
        raise TypeError(f"{function}() takes at most 1 argument ({len(args)} given)")
    num = args[0] if args else 0
    if not isinstance(num, int):
        raise TypeError(f"'{type(num).__name__}' object cannot be interpreted as an integer")
    if num > _MAX_INT:
        raise OverflowError("signed integer is greater than maximum")
    if num < -_MAX_INT - 1:
        raise OverflowError("signed integer is less than minimum")
    assert _context is not None
    if not 0 <= num <= _context.spec.locks:
        raise ValueError("Invalid lock number")
    return int(num)


def _report(operation: str, lock_id: int) -> None:
    assert _context is not None
    if _context.stats.words[HeaderFlag.DETAIL_EVENTS]:
        _context.reporter.send((reports.LOCK, _context.slot, lock_id, operation, threading.get_native_id()))


def lock(*args: object, **kwargs: object) -> None:
    """``lock(num=0)``: take lock ``num``, waiting as long as it takes (not recursive)."""
    lock_id = _lock_number("lock", args, kwargs)
    assert _context is not None
    state = _thread_state()
    words = _context.stats.words
    if lock_id in state.held:
        warn(
            f"lock({lock_id}) taken twice by the same thread: uWSGI's lock is not recursive and "
            "this deadlocks forever, in uWSGI as here"
        )
        threading.Event().wait()
    try:
        fcntl.fcntl(state.fd, fcntl.F_OFD_SETLK, record_lock(fcntl.F_WRLCK, lock_id))
    except OSError as error:
        if error.errno not in (errno.EAGAIN, errno.EACCES):
            raise
        _report("wait", lock_id)
        words[_context.index(Field.ACTIVITY)] = Activity.WAITING_LOCK
        words[_context.index(Field.ACTIVITY_ARG)] = lock_id
        try:
            fcntl.fcntl(state.fd, fcntl.F_OFD_SETLKW, record_lock(fcntl.F_WRLCK, lock_id))
        finally:
            words[_context.index(Field.ACTIVITY)] = Activity.RUNNING
    stats = _context.stats
    if words[stats.lock_offset(lock_id, LockField.OWNER_PID)]:
        log("[deadlock-detector] a process holding a robust mutex died. recovering...")
    pid, tid = os.getpid(), threading.get_native_id()
    for field, value in (
        (LockField.HOLDER_PID, pid),
        (LockField.HOLDER_TID, tid),
        (LockField.OWNER_PID, pid),
        (LockField.OWNER_TID, tid),
    ):
        words[stats.lock_offset(lock_id, field)] = value
    if lock_id < 64:
        words[_context.index(Field.LOCKS_HELD)] |= 1 << lock_id
    state.held.add(lock_id)
    _report("acquired", lock_id)


def unlock(*args: object, **kwargs: object) -> None:
    """``unlock(num=0)``: release lock ``num`` if this thread holds it; otherwise uWSGI's silent
    no-op, which still clears the recorded holder (see the module)."""
    lock_id = _lock_number("unlock", args, kwargs)
    assert _context is not None
    state = _thread_state()
    stats = _context.stats
    words = stats.words
    words[stats.lock_offset(lock_id, LockField.HOLDER_PID)] = 0
    if lock_id not in state.held:
        return None
    state.held.discard(lock_id)
    for field in (LockField.HOLDER_TID, LockField.OWNER_PID, LockField.OWNER_TID):
        words[stats.lock_offset(lock_id, field)] = 0
    if lock_id < 64:
        words[_context.index(Field.LOCKS_HELD)] &= ~(1 << lock_id)
    fcntl.fcntl(state.fd, fcntl.F_OFD_SETLK, record_lock(fcntl.F_UNLCK, lock_id))
    _report("released", lock_id)
    return None


def is_locked(*args: object, **kwargs: object) -> bool:
    """``is_locked(num=0)``: ``True`` if lock ``num`` is held (also by the caller). ``False`` once
    a foreign ``unlock`` cleared the holder, as in uWSGI; and, unlike uWSGI, it never takes a
    dead holder's lock.
    """
    lock_id = _lock_number("is_locked", args, kwargs)
    assert _context is not None
    if not _context.stats.lock_holder(lock_id)[0]:
        return False
    fd = os.open(f"/proc/self/fd/{_context.spec.lock_fd}", os.O_RDWR | os.O_CLOEXEC)
    try:
        answer = fcntl.fcntl(fd, fcntl.F_OFD_GETLK, record_lock(fcntl.F_WRLCK, lock_id))
    finally:
        os.close(fd)
    return int.from_bytes(answer[:2], "little", signed=True) != fcntl.F_UNLCK
