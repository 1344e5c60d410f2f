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
from array import array

from muletui.ipc import reports
from muletui.ipc.stats_block import Activity, Field, HeaderFlag, LockField
from muletui.stack import tracebacks
from muletui.stack.context import Context, log, warn
from muletui.stack.signals import record_lock

_context: Context | None = None
_local = threading.local()
_MAX_INT = 2**31 - 1
_EVENTS = int(HeaderFlag.DETAIL_EVENTS)

# Precomputed by bind() for the hot paths: an uncontended lock()/unlock() pair is two fcntl
# calls and a few word writes, nothing rebuilt per call.
_locks = -1  # the highest lock number (--locks N)
_take: list[bytes] = []  # per lock: the struct flock that takes it
_release: list[bytes] = []  # per lock: the struct flock that releases it
_record: list[int] = []  # per lock: index in the stats words of its record (LockField order)
_words: memoryview = memoryview(array("Q", bytes(8 * 16)))
_i_activity = _i_activity_arg = _i_locks_held = 0
_FREE = memoryview(array("Q", [0] * len(LockField)))  # a lock record when no one holds it


class _ThreadLocks:
    """A thread's own open file description of the lock file, and the locks it holds.

    Kept in a ``threading.local``: when the thread ends, CPython drops it, the description is
    closed and the kernel releases what the thread held, as a robust mutex does for a dead
    owner; the next ``lock()`` then logs the deadlock detector's line.
    """

    def __init__(self, fd: int) -> None:
        """``fd``: the thread's own description, opened by the caller, so that a failed open
        (EMFILE) leaves no half-made object whose ``__del__`` would print its own traceback."""
        self.fd = fd
        self.pid = os.getpid()
        self.tid = threading.get_native_id()
        self.held: set[int] = set()
        # The record of a lock this thread holds, in LockField order: holder, then owner.
        self.holding = memoryview(array("Q", [self.pid, self.tid, self.pid, self.tid]))

    def __del__(self) -> None:
        os.close(self.fd)  # in a forked child (see _forget_thread_states): only the child's copy


def bind(context: Context) -> None:
    """Point this module at the process's stats record. The per-lock tables are built once, in
    the stack root: mules inherit them at fork and share their pages (``--locks`` may be large)."""
    global _context, _locks, _take, _release, _record, _words
    global _i_activity, _i_activity_arg, _i_locks_held
    _context = context
    _forget_thread_states()
    stats = context.stats
    if len(_take) != context.spec.locks + 1:
        _locks = context.spec.locks
        _take = [record_lock(fcntl.F_WRLCK, lock_id) for lock_id in range(_locks + 1)]
        _release = [record_lock(fcntl.F_UNLCK, lock_id) for lock_id in range(_locks + 1)]
        _record = [stats.lock_offset(lock_id, LockField.HOLDER_PID) for lock_id in range(_locks + 1)]
    _words = stats.words
    _i_activity = context.index(Field.ACTIVITY)
    _i_activity_arg = context.index(Field.ACTIVITY_ARG)
    _i_locks_held = context.index(Field.LOCKS_HELD)


def _forget_thread_states() -> None:
    """A forked process must not reuse its parent's descriptions: it would share ownership.

    Dropping the inherited states closes the child's copies at once; the parent's locks stay.
    """
    global _local
    _local = threading.local()


os.register_at_fork(after_in_child=_forget_thread_states)  # also a user's os.fork() in a mule


def _thread_state() -> _ThreadLocks:
    state: _ThreadLocks | None = getattr(_local, "state", None)
    if state is None:
        state = _local.state = _ThreadLocks(_open_lock_file())
    return state


def _open_lock_file() -> int:
    """A new open file description of the lock file.

    Out of descriptors, this raises EMFILE as any call that needs one does: the error alone,
    without the internal path it failed on.
    """
    assert _context is not None
    try:
        return os.open(f"/proc/self/fd/{_context.spec.lock_fd}", os.O_RDWR | os.O_CLOEXEC)
    except OSError as error:
        raise OSError(error.errno, error.strerror) from None


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
    try:
        fcntl.fcntl(state.fd, fcntl.F_OFD_SETLK, _take[lock_id])
    except OSError as error:
        if error.errno not in (errno.EAGAIN, errno.EACCES):
            raise
        if words[_EVENTS]:
            _report("wait", lock_id)
        words[_i_activity] = Activity.WAITING_LOCK
        words[_i_activity_arg] = lock_id
        try:
            fcntl.fcntl(state.fd, fcntl.F_OFD_SETLKW, _take[lock_id])
        finally:
            words[_i_activity] = Activity.RUNNING
    record = _record[lock_id]
    if words[record + LockField.OWNER_PID]:
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
    fcntl.fcntl(state.fd, fcntl.F_OFD_SETLK, _release[lock_id])
    if words[_EVENTS]:
        _report("released", lock_id)


def is_locked(*args: object, **kwargs: object) -> bool:
    """``is_locked(num=0)``: ``True`` if lock ``num`` is held (also by the caller). ``False`` once
    a foreign ``unlock`` cleared the holder, as in uWSGI; and, unlike uWSGI, it never takes a
    dead holder's lock.
    """
    lock_id = _lock_id("is_locked", args, kwargs)
    assert _context is not None
    holder_pid = _context.stats.lock_holder(lock_id)[0]
    if not holder_pid:
        return False
    fd = _open_lock_file()
    try:
        answer = fcntl.fcntl(fd, fcntl.F_OFD_GETLK, record_lock(fcntl.F_WRLCK, lock_id))
    finally:
        os.close(fd)
    if int.from_bytes(answer[:2], "little", signed=True) != fcntl.F_UNLCK:
        return True
    if _context.stats.lock_holder(lock_id)[0] != holder_pid or _process_alive(holder_pid):
        return False  # a live holder let go meanwhile
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
