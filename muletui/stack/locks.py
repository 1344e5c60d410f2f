"""uWSGI's user locks (``--locks N``): ``lock``, ``unlock``, ``is_locked`` for locks 0..N.

The same engine as uWSGI's: process-shared robust pthread mutexes (:mod:`robust_mutex`), in
the lock memfd, owned per thread, handed to waiters in about FIFO order, recovered by the next
locker when their holder died. The holder recorded in the stats block gives uWSGI's bookkeeping
quirks (§5): a foreign ``unlock()`` clears it so ``is_locked()`` says ``False``, and the next
``lock()`` after a holder died logs the deadlock detector's line.
"""

from __future__ import annotations

import os
import threading
from array import array

from muletui.ipc import reports
from muletui.ipc.stats_block import Activity, Field, HeaderFlag, LockField
from muletui.stack import robust_mutex, tracebacks
from muletui.stack.context import Context, log, warn

_context: Context | None = None
_local = threading.local()
_MAX_INT = 2**31 - 1
_EVENTS = int(HeaderFlag.DETAIL_EVENTS)

# Precomputed by bind() for the hot paths: an uncontended lock()/unlock() pair is two libc
# calls without a syscall and a few word writes, nothing rebuilt per call.
_locks = -1  # the highest lock number (--locks N)
_mutexes: robust_mutex.Mutexes | None = None
_mutex: list[int] = []  # per lock: the address of its mutex
_record: list[int] = []  # per lock: index in the stats words of its record (LockField order)
_words: memoryview = memoryview(array("Q", bytes(8 * 16)))
_i_activity = _i_activity_arg = _i_locks_held = 0
_FREE = memoryview(array("Q", [0] * len(LockField)))  # a lock record when no one holds it


class _ThreadLocks:
    """The locks a thread holds, kept in a ``threading.local``. When the thread ends, the
    kernel marks the mutexes it held (robust mutexes); the next ``lock()`` logs the deadlock
    detector's line."""

    def __init__(self) -> None:
        pid, tid = os.getpid(), threading.get_native_id()
        self.held: set[int] = set()
        # The record of a lock this thread holds, in LockField order: holder, then owner.
        self.holding = memoryview(array("Q", [pid, tid, pid, tid]))


def bind(context: Context) -> None:
    """Point this module at the process's stats record. The mutexes and the per-lock tables are
    made once, in the stack root: mules inherit them at fork and share their pages (``--locks``
    may be large)."""
    global _context, _locks, _mutexes, _mutex, _record, _words
    global _i_activity, _i_activity_arg, _i_locks_held
    _context = context
    _forget_thread_states()
    stats = context.stats
    if _mutexes is None:
        _locks = context.spec.locks
        _mutexes = robust_mutex.Mutexes(context.spec.lock_fd, _locks + 1)
        _mutex = _mutexes.addresses
        _record = [stats.lock_offset(lock_id, LockField.HOLDER_PID) for lock_id in range(_locks + 1)]
    _words = stats.words
    _i_activity = context.index(Field.ACTIVITY)
    _i_activity_arg = context.index(Field.ACTIVITY_ARG)
    _i_locks_held = context.index(Field.LOCKS_HELD)


def _forget_thread_states() -> None:
    """A forked process holds none of its parent's locks (their owner is the parent's thread)."""
    global _local
    _local = threading.local()


os.register_at_fork(after_in_child=_forget_thread_states)  # also a user's os.fork() in a mule


def _thread_state() -> _ThreadLocks:
    state: _ThreadLocks | None = getattr(_local, "state", None)
    if state is None:
        state = _local.state = _ThreadLocks()
    return state


def _lock_id(function: str, args: tuple[object, ...], kwargs: dict[str, object]) -> int:
    """uWSGI's ``|i`` argument: one optional int, positional only, within a C int."""
    if kwargs:
        raise TypeError(f"{function}() takes no keyword arguments")
    if not args:
        return 0
    num = args[0]
    if len(args) == 1 and type(num) is int and 0 <= num <= _locks:
        return num  # the common call
    if len(args) > 1:
        raise TypeError(f"{function}() takes at most 1 argument ({len(args)} given)")
    num = args[0] if args else 0
    if not isinstance(num, int):
        raise TypeError(f"'{type(num).__name__}' object cannot be interpreted as an integer")
    if num > _MAX_INT:
        raise OverflowError("signed integer is greater than maximum")
    if num < -_MAX_INT - 1:
        raise OverflowError("signed integer is less than minimum")
    if not 0 <= num <= _locks:
        raise ValueError("Invalid lock number")
    return int(num)


def _report(operation: str, lock_id: int) -> None:
    assert _context is not None
    _context.reporter.send((reports.LOCK, _context.slot, lock_id, operation, threading.get_native_id()))


def lock(*args: object, **kwargs: object) -> None:
    """``lock(num=0)``: take lock ``num``, waiting as long as it takes (not recursive)."""
    try:
        lock_id = _lock_id("lock", args, kwargs)
    except Exception as error:  # a C function's error ends at its caller's line
        tracebacks.strip(error)
        raise
    state = _thread_state()
    if lock_id in state.held:
        warn(
            f"lock({lock_id}) taken twice by the same thread: uWSGI's lock is not recursive and "
            "this deadlocks forever, in uWSGI as here"
        )
        threading.Event().wait()
    words = _words
    mutex = _mutex[lock_id]
    owner_died = robust_mutex.try_lock(mutex)
    if owner_died is None:
        if words[_EVENTS]:
            _report("wait", lock_id)
        words[_i_activity] = Activity.WAITING_LOCK
        words[_i_activity_arg] = lock_id
        try:
            owner_died = robust_mutex.lock(mutex)
        finally:
            words[_i_activity] = Activity.RUNNING
    record = _record[lock_id]
    # The owner recorded is cleared by the owner's unlock() only: still there, it died holding
    # the lock (also when is_locked() found it dead and let the lock go).
    if owner_died or words[record + LockField.OWNER_PID]:
        log("[deadlock-detector] a process holding a robust mutex died. recovering...")
    words[record : record + len(LockField)] = state.holding
    if lock_id < 64:
        words[_i_locks_held] |= 1 << lock_id
    state.held.add(lock_id)
    if words[_EVENTS]:
        _report("acquired", lock_id)


def unlock(*args: object, **kwargs: object) -> None:
    """``unlock(num=0)``: release lock ``num`` if this thread holds it; otherwise uWSGI's silent
    no-op, which still clears the recorded holder (see the module)."""
    try:
        lock_id = _lock_id("unlock", args, kwargs)
    except Exception as error:  # a C function's error ends at its caller's line
        tracebacks.strip(error)
        raise
    state = _thread_state()
    words = _words
    record = _record[lock_id]
    if lock_id not in state.held:
        words[record + LockField.HOLDER_PID] = 0
        return
    state.held.discard(lock_id)
    words[record : record + len(LockField)] = _FREE
    if lock_id < 64:
        words[_i_locks_held] &= ~(1 << lock_id)
    robust_mutex.unlock(_mutex[lock_id])
    if words[_EVENTS]:
        _report("released", lock_id)


def is_locked(*args: object, **kwargs: object) -> bool:
    """``is_locked(num=0)``: ``True`` if lock ``num`` is held (also by the caller). ``False`` once
    a foreign ``unlock`` cleared the holder, as in uWSGI; and, unlike uWSGI, it never keeps a
    dead holder's lock.
    """
    lock_id = _lock_id("is_locked", args, kwargs)
    assert _context is not None
    holder_pid = _context.stats.lock_holder(lock_id)[0]
    if not holder_pid:
        return False
    mutex = _mutex[lock_id]
    owner_died = robust_mutex.try_lock(mutex)  # as uWSGI: busy (also for its holder) means held
    if owner_died is None:
        return True
    robust_mutex.unlock(mutex)
    if not owner_died or _process_alive(holder_pid):
        return False  # a live holder let go meanwhile, or a thread of a live process ended
    if (lock_id, holder_pid) not in _dead_holders_warned:  # recorded, yet free: the holder died
        _dead_holders_warned.add((lock_id, holder_pid))
        warn(
            f"is_locked({lock_id}): its holder (pid {holder_pid}) died holding it. uWSGI's is_locked() "
            "would take the lock and never release it, so every later lock() would block forever; "
            "muletui answers False and leaves it free"
        )
    return False


_dead_holders_warned: set[tuple[int, int]] = set()


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
