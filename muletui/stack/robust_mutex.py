"""Process-shared robust priority-inheritance pthread mutexes in shared memory: uWSGI's lock
engine (``pthread robust mutexes``), called through libc.

Such a mutex is owned by a thread. Unlocked while threads wait in the kernel, the PI futex
hands it straight to the longest waiter (FIFO among equal priorities), so a releasing thread
cannot take it back before them. When its owner dies (thread or process), the kernel marks it
and the next locker gets ``EOWNERDEAD`` with the mutex, which :func:`lock` makes usable again.

Handing over costs a wake-up each time, and a Python holder keeps the lock far longer than
uWSGI's C (microseconds of bytecode): queued at once, four mules taking turns run at a
fraction of uWSGI's rate. So :func:`lock` first spins briefly (a holder on another CPU is
usually out within it), then naps once, and only then queues: meanwhile a holder may take the
lock again, at no cost, but a waiter's turn comes at most :data:`SPIN` + :data:`NAP` (plus the
timer's slack) after it would have with a queue alone.
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import threading
import time
from collections.abc import Callable

#: Bytes per mutex: at least ``sizeof(pthread_mutex_t)`` (40 or 48) on every 64-bit Linux libc.
SLOT = 64
#: How long :func:`lock` retries before napping, and how long it naps before queuing (seconds).
SPIN = 10e-6
NAP = 50e-6
#: The longest a main thread's wait stays in libc at a time: Python runs signal handlers in the
#: main thread, between two slices (uWSGI's C handlers run at once: a stop signal ends a mule
#: waiting for a lock). A new slice waits behind the waiters that came meanwhile, so handing
#: over is FIFO among waits shorter than this; other threads wait in one go, always FIFO.
WAIT_SLICE = 0.5

_PTHREAD_PROCESS_SHARED = 1
_PTHREAD_MUTEX_ROBUST = 1
_PTHREAD_PRIO_INHERIT = 1
_ATTR_BYTES = 64  # >= sizeof(pthread_mutexattr_t) (4 in glibc and musl)


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


_libc = ctypes.CDLL(None)


def _function(name: str, *argtypes: type) -> Callable[..., int]:
    function = getattr(_libc, name)
    function.argtypes = argtypes
    function.restype = ctypes.c_int
    return function


_trylock = _function("pthread_mutex_trylock", ctypes.c_void_p)
_lock = _function("pthread_mutex_lock", ctypes.c_void_p)
_timedlock = _function("pthread_mutex_timedlock", ctypes.c_void_p, ctypes.POINTER(_Timespec))
_unlock = _function("pthread_mutex_unlock", ctypes.c_void_p)
_consistent = _function("pthread_mutex_consistent", ctypes.c_void_p)


class Mutexes:
    """``count`` new mutexes at the start of a shared mapping of file ``fd`` (grown if shorter);
    ``addresses[n]`` is mutex n's. Made once, before the processes that share them fork: they
    inherit the mapping."""

    def __init__(self, fd: int, count: int) -> None:
        needed = count * SLOT
        if os.fstat(fd).st_size < needed:
            os.ftruncate(fd, needed)
        self._map = mmap.mmap(fd, needed)
        base = ctypes.addressof(ctypes.c_char.from_buffer(self._map))
        self.addresses = [base + number * SLOT for number in range(count)]
        attr = ctypes.create_string_buffer(_ATTR_BYTES)
        _check(_function("pthread_mutexattr_init", ctypes.c_void_p)(attr))
        _check(_function("pthread_mutexattr_setpshared", ctypes.c_void_p, ctypes.c_int)(attr, _PTHREAD_PROCESS_SHARED))
        _check(_function("pthread_mutexattr_setrobust", ctypes.c_void_p, ctypes.c_int)(attr, _PTHREAD_MUTEX_ROBUST))
        _check(_function("pthread_mutexattr_setprotocol", ctypes.c_void_p, ctypes.c_int)(attr, _PTHREAD_PRIO_INHERIT))
        init = _function("pthread_mutex_init", ctypes.c_void_p, ctypes.c_void_p)
        for address in self.addresses:
            _check(init(address, attr))


def _check(result: int) -> None:
    """Raise a pthread function's error number."""
    if result:
        raise OSError(result, os.strerror(result))


def try_lock(address: int) -> bool | None:
    """Take the mutex if no one holds it: ``None`` if someone does, else whether its owner had
    died holding it (the mutex is made consistent: usable again)."""
    result = _trylock(address)
    if result == 0:
        return False
    if result == errno.EBUSY:
        return None
    return _taken_from_the_dead(address, result, "pthread_mutex_trylock")


def lock(address: int) -> bool:
    """Wait for the mutex and take it; ``True`` if its owner had died holding it (the mutex is
    made consistent: usable again)."""
    clock = time.perf_counter
    spun = clock() + SPIN
    while (owner_died := try_lock(address)) is None and clock() < spun:
        pass
    if owner_died is None:
        time.sleep(NAP)
        owner_died = try_lock(address)
    if owner_died is not None:
        return owner_died
    if threading.current_thread() is not threading.main_thread():
        result = _lock(address)
        return result != 0 and _taken_from_the_dead(address, result, "pthread_mutex_lock")
    while True:
        deadline = time.time() + WAIT_SLICE
        whole = int(deadline)
        result = _timedlock(address, _Timespec(whole, int((deadline - whole) * 1e9)))
        if result == 0:
            return False
        if result != errno.ETIMEDOUT:  # else: Python runs pending signal handlers, then waits on
            return _taken_from_the_dead(address, result, "pthread_mutex_timedlock")


def _taken_from_the_dead(address: int, result: int, call: str) -> bool:
    """``True`` once a mutex ``call`` returned ``EOWNERDEAD`` for is usable again; any other
    result is an error."""
    if result != errno.EOWNERDEAD:
        raise OSError(result, f"{call}: {os.strerror(result)}")
    _check(_consistent(address))
    return True


def unlock(address: int) -> None:
    """Release a mutex this thread holds."""
    _check(_unlock(address))
