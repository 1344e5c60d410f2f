"""uWSGI's mule messages: ``mule_msg``, ``farm_msg``, ``mule_get_msg``, ``farm_get_msg``, ``in_farm``.

Every queue is a non-blocking SOCK_SEQPACKET pair created by the master; sending is one
``write`` on the queue's send end, with no hop through the master. Counters go to this
process's stats record, and to its row of per-queue counters (messages sent to and taken from
each queue: the console's queue depth in messages); per-message reports only while the master
asks for them.
Behaviour follows ``shared/reference/uwsgi-behaviour.md`` §2.1–2.3 and §6.

A wait in a mule's main thread ends, as uWSGI's ``poll()`` does with ``EINTR``, when a signal
with a Python handler arrives: uWSGI's line, then ``b''`` (``mule_get_msg``), ``None``
(``farm_get_msg``) or ``SystemError`` (``signal_wait``); a handler that raises has its
exception come out of the call, after the line. CPython retries an interrupted ``poll`` by
itself (PEP 475), so the mule's signal wakeup descriptor (``signal.set_wakeup_fd``), polled with
the queues, is what tells such a wait that a signal came.
"""

from __future__ import annotations

import errno
import os
import select
import signal as signal_module
import threading
import time
from collections.abc import Callable

from muletui.ipc import reports
from muletui.ipc.previews import preview_bytes
from muletui.ipc.stats_block import Activity, Field, HeaderFlag
from muletui.stack import signals, tracebacks
from muletui.stack.context import Context, log, type_name, warn

RECEIVE_BUFFER = 65536  # signal-mode mules and farm_get_msg read into a buffer this size
_UNLIMITED = 1 << 22  # mule_get_msg(buffer_size=-1): larger than any queue's largest message

# Plain ints on the hot paths: an IntEnum member costs several times more to use as an index.
_EVENTS = int(HeaderFlag.DETAIL_EVENTS)
_RUNNING = int(Activity.RUNNING)
_WAITING_MESSAGE = int(Activity.WAITING_MESSAGE)

_mule_id = 0
_slot = 0
_mule_count = 0
_send_fds: list[int] = []  # index 0: shared queue, N: mule N
_farm_send_fds: dict[str, int] = {}  # the first farm of each name
_own_recv_fd = -1
_shared_recv_fd = -1
_farm_recv_fds: list[tuple[int, str]] = []  # this mule's farm queues
_my_farms: frozenset[str] = frozenset()
_queue_bufsize = 0
_words: memoryview = memoryview(bytearray(8 * 16)).cast("Q")
_i_out = _i_in = _i_dropped = _i_activity = _i_activity_arg = 0
_i_sent = 0  # this process's "sent" counter of queue 0 (the shared queue); mule N's is _i_sent + N
_i_read_own = 0  # this mule's "read" counter of its own queue
_sent_at: dict[int, int] = {}  # send descriptor -> this process's "sent" counter of that queue
_read_at: dict[int, int] = {}  # receive descriptor -> this mule's "read" counter of that queue
# This process's reporter, bound by bind(); called only while the master asks for events.
_admit: Callable[[], bool]
_post: Callable[[reports.Report], None]
#: Read end of this mule's signal wakeup pipe (-1 in the stack root), and the thread that may
#: see it: Python runs signal handlers in the main thread only, where uWSGI's poll gets EINTR.
_wakeup_fd = -1
_main_thread = 0
_get_ident = threading.get_ident

_Poll = Callable[[float | None], list[tuple[int, int]]]


def _poller(fds: list[int]) -> _Poll:
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    return poller.poll


class _PollSet:
    """Sources (descriptor, name) in priority order, and one ``poll`` over them all; ``name``
    ``"signal"`` marks a signal socket. ``main_poll`` polls the signal wakeup pipe too, for
    the main thread. Built once per set of descriptors and kept."""

    __slots__ = ("listening", "main_poll", "poll", "sources")

    def __init__(self, sources: list[tuple[int, str]]) -> None:
        fds = [fd for fd, _name in sources]
        self.poll = _poller(fds)
        self.main_poll = _poller([*fds, _wakeup_fd]) if _wakeup_fd >= 0 else self.poll
        self.sources = sources
        self.listening = any(name == "signal" for _fd, name in sources)


_poll_sets: dict[tuple[int, ...], _PollSet] = {}
_message_set = _PollSet([])  # own queue, shared queue
_message_farm_set = _PollSet([])  # ... and this mule's farm queues
#: After a common ``mule_get_msg()`` found its queue empty, the next calls go straight to poll:
#: a mule answering messages one by one waits at every call, and a failed read costs an
#: exception (three times a poll). Every ``_POLL_FIRST_CALLS + 1``-th call reads first again,
#: so a backlog is drained with one read per message. (Measured against polling first only
#: after a poll(0) probe: 64 B throughput +6 %, round trip p50 -7 %.)
_POLL_FIRST_CALLS = 15
_polls_first = 0


def bind(context: Context) -> None:
    """Point this module at the queues and stats record of the calling process; in a mule, also
    at a new signal wakeup pipe (so call it from the mule's main thread)."""
    global _mule_id, _slot, _mule_count, _send_fds, _farm_send_fds, _own_recv_fd, _shared_recv_fd
    global _farm_recv_fds, _my_farms, _queue_bufsize, _words, _i_out, _i_in, _i_dropped, _i_activity
    global _i_activity_arg, _message_set, _message_farm_set, _i_sent, _i_read_own, _sent_at, _read_at
    global _admit, _post, _wakeup_fd, _main_thread
    spec = context.spec
    _admit, _post = context.reporter.admit, context.reporter.post
    _mule_id, _slot = context.mule_id, context.slot
    _mule_count = len(spec.mules)
    _send_fds = [spec.shared_queue.send] + [spec.mule_queues[m.mule_id].send for m in spec.mules]
    _farm_send_fds = {}
    stats = context.stats
    _i_sent = stats.sent_offset(_slot, 0)
    _sent_at = {fd: _i_sent + queue for queue, fd in enumerate(_send_fds)}
    farm_queue = {farm.index: _mule_count + farm.index for farm in spec.farms}
    for farm in spec.farms:
        fd = _farm_send_fds.setdefault(farm.name, spec.farm_queues[farm.index].send)
        _sent_at.setdefault(fd, stats.sent_offset(_slot, farm_queue[farm.index]))
    _shared_recv_fd = spec.shared_queue.recv
    if _mule_id:
        _own_recv_fd = spec.mule_queues[_mule_id].recv
        mine = [farm for farm in spec.farms if _mule_id in farm.members]
        _farm_recv_fds = [(spec.farm_queues[farm.index].recv, farm.name) for farm in mine]
        _my_farms = frozenset(farm.name for farm in mine)
        _i_read_own = stats.read_offset(_slot, _mule_id)
        _read_at = {_own_recv_fd: _i_read_own, _shared_recv_fd: stats.read_offset(_slot, 0)}
        for farm in mine:
            _read_at[spec.farm_queues[farm.index].recv] = stats.read_offset(_slot, farm_queue[farm.index])
    if _send_fds and not _queue_bufsize:
        _queue_bufsize = signals.send_buffer_size(_send_fds[0])
    _words = context.stats.words
    _i_out = context.index(Field.MSGS_OUT)
    _i_in = context.index(Field.MSGS_IN)
    _i_dropped = context.index(Field.MSGS_DROPPED)
    _i_activity = context.index(Field.ACTIVITY)
    _i_activity_arg = context.index(Field.ACTIVITY_ARG)
    _poll_sets.clear()
    if _mule_id:
        _wakeup_fd, _main_thread = _watch_signals(), _get_ident()
        _message_set = _poll_set([(_own_recv_fd, "own"), (_shared_recv_fd, "shared")])
        _message_farm_set = _poll_set(_message_set.sources + _farm_recv_fds)


def _watch_signals() -> int:
    """Point CPython's signal wakeup descriptor at a new pipe; its read end. Call it from the
    main thread. An app that sets its own (asyncio does) makes interrupted waits go on waiting."""
    read_end, write_end = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal_module.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    return read_end


def _signal_came() -> bool:
    """Whether a signal with a Python handler came since the last call (drains the pipe)."""
    try:
        return bool(os.read(_wakeup_fd, 1 << 16))  # a pipe holds at most 64 KiB
    except BlockingIOError:
        return False


def _poll_set(sources: list[tuple[int, str]]) -> _PollSet:
    key = tuple(fd for fd, _name in sources)
    found = _poll_sets.get(key)
    if found is None:
        found = _poll_sets[key] = _PollSet(sources)
    return found


def message_bytes(message: object, function: str, argument: int = 1) -> bytes:
    """uWSGI's ``s#`` conversion: ``str`` as UTF-8, ``bytes`` as they are; any other buffer,
    read-only or not (``memoryview(b'...')`` too), is refused as pyuwsgi refuses it."""
    if isinstance(message, str):
        return message.encode("utf-8")
    if isinstance(message, bytes):
        return bytes(message)
    try:
        memoryview(message)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"a bytes-like object is required, not '{type(message).__name__}'") from None
    raise TypeError(
        f"{function}() argument {argument} must be read-only bytes-like object, not {type(message).__name__}"
    )


# -- sending -------------------------------------------------------------------------------

_OMITTED = object()


def _send_failed(message: bytes, target: int | str, reason: str) -> bool:
    _words[_i_dropped] += 1
    if _words[_EVENTS] and _admit():
        _post((reports.DROPPED, _slot, target, len(message), reason))
    return False


def _write_queue(fd: int, message: bytes, target: int | str) -> bool:
    try:
        os.write(fd, message)
    except BlockingIOError:
        log(
            f"*** MULE MSG QUEUE IS FULL: buffer size {_queue_bufsize} bytes "
            "(you can tune it with --mule-msg-size) ***"
        )
        return _send_failed(message, target, "queue full")
    except OSError as error:
        log(f"mule_send_msg(): {error.strerror} [core/mule.c line 28]")
        return _send_failed(message, target, "too large" if error.errno == errno.EMSGSIZE else str(error))
    _words[_i_out] += 1
    _words[_sent_at[fd]] += 1
    if _words[_EVENTS] and _admit():
        _post((reports.SENT, _slot, target, len(message), preview_bytes(message)))
    return True


def mule_msg(message: str | bytes, mule: object = _OMITTED, /) -> bool:
    """Queue ``message`` for mule ``mule`` (int), the shared queue (omitted or 0) or a farm (bytes).

    Returns ``True`` once queued, ``False`` (with uWSGI's log line) when the queue is full or
    the message too large. Never blocks.
    """
    if type(mule) is int and 0 < mule <= _mule_count and type(message) is bytes:
        try:  # the common case, inlined: one write, one counter
            os.write(_send_fds[mule], message)
        except OSError:
            return _write_queue(_send_fds[mule], message, mule)  # retried there, logged, counted
        _words[_i_out] += 1
        _words[_i_sent + mule] += 1
        if _words[_EVENTS] and _admit():
            _post((reports.SENT, _slot, mule, len(message), preview_bytes(message)))
        return True
    try:
        return _mule_msg_elsewhere(message, mule)
    except Exception as error:  # a C function's error ends at its caller's line
        tracebacks.strip(error)
        raise


def _mule_msg_elsewhere(message: object, mule: object) -> bool:
    """:func:`mule_msg` off its fast path: the shared queue, a farm, a wrong id or argument."""
    if type(message) is not bytes:
        message = message_bytes(message, "mule_msg")
    if not _mule_count:
        raise ValueError("no mule configured")
    if mule is _OMITTED:
        return _write_queue(_send_fds[0], message, 0)
    if isinstance(mule, int):
        target = int(mule)
        if 0 <= target <= _mule_count:
            return _write_queue(_send_fds[target], message, target)
        log("mule_send_msg(): Bad file descriptor [core/mule.c line 28]")
        warn(
            f"mule_msg() to mule {target}: there are mules 1..{_mule_count} "
            "(uWSGI 2.0 does no range check here: it writes to a wrong descriptor or crashes the caller)"
        )
        return _send_failed(message, target, "bad mule id")
    if isinstance(mule, bytes):
        name = mule.decode("utf-8", "replace")
        fd = _farm_send_fds.get(name)
        if fd is None:
            raise ValueError("unknown farm")
        return _write_queue(fd, message, name)
    raise ValueError("invalid mule")


def farm_msg(farm: str, message: str | bytes, /) -> None:
    """Queue ``message`` for farm ``farm`` (a str); always ``None``, unknown farms are ignored."""
    if not isinstance(farm, str):
        raise TypeError(f"farm_msg() argument 1 must be str, not {type_name(farm)}")
    message = message_bytes(message, "farm_msg", 2)
    fd = _farm_send_fds.get(farm)
    if fd is None:
        return
    try:
        if not os.write(fd, message):  # an empty message is queued, but uWSGI counts 0 bytes as a failure
            log("write(): Success [plugins/python/uwsgi_pymodule.c line 1235]")
    except OSError as error:
        log(f"write(): {error.strerror} [plugins/python/uwsgi_pymodule.c line 1235]")
        _send_failed(message, farm, "queue full" if isinstance(error, BlockingIOError) else str(error))
        return
    _words[_i_out] += 1
    _words[_sent_at[fd]] += 1
    if _words[_EVENTS] and _admit():
        _post((reports.SENT, _slot, farm, len(message), preview_bytes(message)))


# -- receiving -----------------------------------------------------------------------------

_TIMEOUT = object()
_SIGNAL = object()
_INTERRUPTED = object()
_MULE_POLL_INTERRUPTED = "uwsgi_mule_get_msg()/poll(): Interrupted system call [core/mule.c line 338]"
_FARM_POLL_INTERRUPTED = "poll(): Interrupted system call [plugins/python/uwsgi_pymodule.c line 1384]"


def received(data: bytes, counter: int, queue: str, buffer_size: int, swallowed: bool = False) -> bytes:
    """Count a message this mule read (``counter``: its queue's "read" word), and report it if
    the master asks; ``swallowed``: a signal-mode mule without ``mule_msg_hook`` read it only
    to drop it."""
    _words[_i_in] += 1
    _words[counter] += 1
    if _words[_EVENTS] and _admit():
        _post((reports.RECEIVED, _slot, queue, len(data), preview_bytes(data), buffer_size, swallowed))
    return data


def hook_raised(data: bytes, queue: str, error: BaseException) -> None:
    """Report that ``uwsgi.mule_msg_hook`` raised ``error`` on ``data``, which this signal-mode
    mule read from ``queue`` (and reported as received before running the hook)."""
    if _words[_EVENTS] and _admit():
        _post((reports.HOOK_RAISED, _slot, queue, len(data), preview_bytes(data), type(error).__name__))


def _wait(poll_set: _PollSet, buffer_size: int, timeout: int, activity: int, interrupted: str = "") -> object:
    """Take one thing from the first ready source of ``poll_set``, in priority order.

    A message returns its bytes; a signal byte (source name ``"signal"``) runs the signal's
    handler and returns ``_SIGNAL``; ``timeout`` seconds (negative = forever) without either
    return ``_TIMEOUT``. Several threads may wait on the same sources: the kernel hands each
    datagram or byte to one reader, the others see ``EAGAIN`` and wait again.

    In a mule's main thread, a signal with a Python handler that arrives during the wait ends
    it as it ends uWSGI's ``poll()``: ``interrupted`` (uWSGI's log line, if any) is logged, then
    ``_INTERRUPTED`` returned, or the handler's exception raised. A signal handled before the
    wait began does not end it: the main thread first looks without waiting (one ``poll`` that
    drains such a signal's wakeup byte and takes whatever source is ready already).
    """
    main = _get_ident() == _main_thread
    sources = poll_set.sources
    if main:
        poll = poll_set.main_poll
        ready = dict(poll(0))
        if _wakeup_fd in ready:
            _signal_came()
            del ready[_wakeup_fd]
    else:
        poll, ready = poll_set.poll, {}
    deadline = None if timeout < 0 else time.monotonic() + timeout
    _words[_i_activity_arg] = poll_set.listening  # the console's "signals piling up" hint reads this
    _words[_i_activity] = activity
    try:
        while True:
            for fd, name in sources:
                if fd not in ready:
                    continue
                if name == "signal":
                    if signals.take(fd):
                        return _SIGNAL
                    continue
                if buffer_size == 0:
                    return b""  # uWSGI reads nothing: the message stays queued
                try:
                    data = os.read(fd, buffer_size)
                except BlockingIOError:
                    continue  # another reader won the race
                return received(data, _read_at[fd], name, buffer_size)
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic()) * 1000
            try:
                ready = dict(poll(remaining))
            except BaseException:  # a signal handler raised, CPython re-raises it from poll()
                if main and _signal_came() and interrupted:
                    log(interrupted)
                raise
            if not ready:
                return _TIMEOUT
            if _wakeup_fd in ready:
                _signal_came()
                if interrupted:
                    log(interrupted)
                return _INTERRUPTED
    finally:
        _words[_i_activity] = _RUNNING


def mule_get_msg(
    signals: object = True,
    farms: object = True,
    buffer_size: int = 65536,
    timeout: int = -1,
    **unknown: object,
) -> bytes | None:
    """Wait for a message for this mule: own queue, shared queue, then (``farms``) farm queues.

    ``timeout`` in whole seconds (-1 forever, 0 poll once) returns ``b''``; longer messages
    are truncated to ``buffer_size``. ``signals`` is inverted as in uWSGI 2.0: only a false
    value makes the call also take signals, running the handler and returning ``None``.
    """
    if (
        not unknown
        and timeout == -1
        and type(timeout) is int
        and type(buffer_size) is int
        and buffer_size > 0
        and signals is not None
        and signals is not False
        and _mule_id
    ):  # the common call, inlined
        global _polls_first
        if _polls_first:
            _polls_first -= 1
        else:
            try:
                return received(os.read(_own_recv_fd, buffer_size), _i_read_own, "own", buffer_size)
            except BlockingIOError:
                _polls_first = _POLL_FIRST_CALLS
        poll_set = _message_set if farms is None or farms is False else _message_farm_set
        got = _wait(poll_set, buffer_size, -1, _WAITING_MESSAGE, _MULE_POLL_INTERRUPTED)
        return b"" if got is _INTERRUPTED else got  # type: ignore[return-value]
    if unknown:
        raise TypeError(f"'{next(iter(unknown))}' is an invalid keyword argument for mule_get_msg()")
    for value in (buffer_size, timeout):
        if not isinstance(value, int):
            raise TypeError(f"'{type(value).__name__}' object cannot be interpreted as an integer")
    if not _mule_id:
        raise ValueError("you can receive mule messages only in a mule !!!")
    if buffer_size < 0:
        buffer_size = _UNLIMITED  # uWSGI's buffer size is unsigned: the whole message comes back
    if buffer_size:
        try:
            return received(os.read(_own_recv_fd, buffer_size), _i_read_own, "own", buffer_size)
        except BlockingIOError:
            pass
    sources = list(_message_set.sources)
    if signals is None or signals is False:
        sources += _signal_sources()
    if not (farms is None or farms is False):
        sources += _farm_recv_fds
    got = _wait(_poll_set(sources), buffer_size, timeout, Activity.WAITING_MESSAGE, _MULE_POLL_INTERRUPTED)
    if got is _SIGNAL:
        return None
    return b"" if got is _TIMEOUT or got is _INTERRUPTED else got  # type: ignore[return-value]


def _signal_sources() -> list[tuple[int, str]]:
    return [(fd, "signal") for fd in signals.own_signal_fds()]


def signal_wait(signum: object = None, /) -> bytes:
    """Block until a signal arrives on this process's signal sockets; run it; return ``b''``.

    With ``signum``, keep going (running the handlers of other signals) until that one comes.
    """
    wanted = None if signum is None else signals.signal_number(signum)
    sources = _signal_sources()
    if not sources:
        raise SystemError("error waiting for signal")
    poll_set = _poll_set(sources)
    while True:
        got = _wait(poll_set, 0, -1, Activity.WAITING_SIGNAL)
        if got is _INTERRUPTED:
            raise SystemError("error waiting for signal")
        if got is _SIGNAL:
            signals.note_signal_wait()
            if wanted is None or signals.signal_received() == wanted:
                return b""


def farm_get_msg() -> bytes | None:
    """Wait, without timeout and without signals, for a message on this mule's farm queues.

    A mule in no farm blocks forever, as in uWSGI (muletui warns once). An empty message
    returns ``None`` with uWSGI's ``read()`` log line.
    """
    if not _mule_id:
        raise ValueError("you can receive farm messages only in a mule !!!")
    if not _farm_recv_fds:
        warn(f"mule {_mule_id} called farm_get_msg() but is in no farm: it blocks forever, as in uWSGI")
    got = _wait(_poll_set(_farm_recv_fds), RECEIVE_BUFFER, -1, Activity.WAITING_FARM, _FARM_POLL_INTERRUPTED)
    if got is _INTERRUPTED:
        return None
    if got == b"":  # uWSGI takes a 0-byte read for an error: it logs (errno is stale) and returns None
        log("read(): Success [plugins/python/uwsgi_pymodule.c line 1398]")
        return None
    return got  # type: ignore[return-value]


def in_farm(name: object = _OMITTED, /) -> bool | None:
    """``True`` if this mule is in farm ``name`` (any farm if omitted), else ``None``.

    ``in_farm(None)`` is a TypeError, as in uWSGI (so ``@farm()`` without a name fails).
    """
    if name is not _OMITTED and not isinstance(name, str):
        raise TypeError(f"in_farm() argument 1 must be str, not {type_name(name)}")
    if not _mule_id or not _my_farms:
        return None
    if name is _OMITTED or name in _my_farms:
        return True
    return None


def read_for_signal_loop(fd: int, queue: str, hooked: bool) -> bytes | None:
    """One datagram for the signal-mode loop (64 KiB buffer), or ``None`` if another reader won;
    ``hooked``: the app set ``uwsgi.mule_msg_hook`` (else the loop drops what it reads)."""
    try:
        data = os.read(fd, RECEIVE_BUFFER)
    except BlockingIOError:
        return None
    return received(data, _read_at[fd], queue, RECEIVE_BUFFER, swallowed=not hooked)
