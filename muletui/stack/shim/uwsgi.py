"""muletui's ``uwsgi`` module: uWSGI 2.0.30's Python API for mules, quirks included.

Importable only inside stack processes (the stack root puts this directory first on
``sys.path``). Return values, exceptions and log lines follow
``shared/reference/uwsgi-behaviour.md`` §2; where uWSGI crashes or reads garbage (mule ids out
of range) this module answers as uWSGI's safe path does and also warns.

The module is bound to its process by :func:`_bind` (the stack root before it imports the app,
each mule again right after fork). The message hot path reads only module globals.
"""

from __future__ import annotations

import errno
import os
import select
import socket
import time

from muletui import UWSGI_VERSION
from muletui.ipc import reports
from muletui.ipc.spec import StackSpec
from muletui.ipc.stats_block import Activity, Field, HeaderFlag, StatsBlock
from muletui.stack.reporter import Reporter

version: bytes = UWSGI_VERSION.encode()
hostname: bytes = socket.gethostname().encode()
numproc: int = 1
started_on: int = 0
opt: dict[str, bytes | bool] = {}

_RECEIVE_BUFFER = 65536  # signal-mode mules and farm_get_msg read into a buffer this size

_spec: StackSpec | None = None
_slot = 0
_mule_id = 0
_masterpid = 0
_mule_count = 0
_send_fds: list[int] = []  # index 0: shared queue, N: mule N
_farm_send_fds: dict[str, int] = {}  # first farm of each name
_own_recv_fd = -1
_shared_recv_fd = -1
_farm_recv_fds: list[tuple[int, str]] = []  # this mule's farms
_my_farms: frozenset[str] = frozenset()
_queue_bufsize = 0
_stats: StatsBlock | None = None
_words: memoryview | None = None
_i_out = _i_in = _i_dropped = _i_activity = _i_activity_arg = 0
_reporter: Reporter | None = None


def _bind(spec: StackSpec, mule_id: int) -> None:
    """Make this module speak for the calling process: the stack root (0) or mule ``mule_id``."""
    global _spec, _slot, _mule_id, _masterpid, _mule_count, _send_fds, _farm_send_fds
    global _own_recv_fd, _shared_recv_fd, _farm_recv_fds, _my_farms, _queue_bufsize
    global _stats, _words, _i_out, _i_in, _i_dropped, _i_activity, _i_activity_arg, _reporter
    global numproc, started_on, opt
    _spec = spec
    _slot = _mule_id = mule_id
    _masterpid = spec.masterpid
    _mule_count = len(spec.mules)
    numproc, started_on, opt = spec.numproc, spec.started_on, dict(spec.opt)
    _send_fds = [spec.shared_queue.send] + [spec.mule_queues[m.mule_id].send for m in spec.mules]
    _farm_send_fds = {}
    for farm in spec.farms:
        _farm_send_fds.setdefault(farm.name, spec.farm_queues[farm.index].send)
    _shared_recv_fd = spec.shared_queue.recv
    if mule_id:
        _own_recv_fd = spec.mule_queues[mule_id].recv
        mine = [farm for farm in spec.farms if mule_id in farm.members]
        _farm_recv_fds = [(spec.farm_queues[farm.index].recv, farm.name) for farm in mine]
        _my_farms = frozenset(farm.name for farm in mine)
    if _send_fds and not _queue_bufsize:
        probe = socket.socket(fileno=os.dup(_send_fds[0]))
        _queue_bufsize = probe.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
        probe.close()
    if _stats is None:
        _stats = StatsBlock(spec.stats_fd, len(spec.mules) + 1)
    _words = _stats.words
    _i_out = _stats.offset(_slot, Field.MSGS_OUT)
    _i_in = _stats.offset(_slot, Field.MSGS_IN)
    _i_dropped = _stats.offset(_slot, Field.MSGS_DROPPED)
    _i_activity = _stats.offset(_slot, Field.ACTIVITY)
    _i_activity_arg = _stats.offset(_slot, Field.ACTIVITY_ARG)
    _stats.set(_slot, Field.PID, os.getpid())
    _reporter = Reporter(spec.report_fd, _stats, _slot, spec.report_rate)


def _log(text: str) -> None:
    """Write one line to the uWSGI log (this process's stderr), bypassing ``sys.stderr``."""
    data = (text + "\n").encode("utf-8", "backslashreplace")
    while data:
        data = data[os.write(2, data) :]


def _warn(text: str) -> None:
    _log(f"[muletui] {text}")
    if _reporter is not None:
        _reporter.send_always((reports.WARNING, _slot, text))


def _message_bytes(message: object, function: str) -> bytes:
    """uWSGI's ``s#`` conversion: ``str`` as UTF-8, read-only bytes-like objects as they are."""
    if isinstance(message, str):
        return message.encode("utf-8")
    if isinstance(message, bytes):
        return bytes(message)
    try:
        view = memoryview(message)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"a bytes-like object is required, not '{type(message).__name__}'") from None
    if not view.readonly:
        raise TypeError(
            f"{function}() argument 1 must be read-only bytes-like object, "
            f"not {type(message).__name__}"
        )
    return view.tobytes()


def _preview(data: bytes) -> str:
    return repr(data[: reports.PREVIEW_BYTES])[2:-1]


# -- identity ------------------------------------------------------------------------------


def mule_id() -> int:
    """This mule's id (1..M); 0 outside mules."""
    return _mule_id


def worker_id() -> int:
    """Always 0: muletui emulates no workers, and mules and the master have worker id 0."""
    return 0


def masterpid() -> int:
    """The pid of the muletui master process."""
    return _masterpid


def i_am_the_spooler() -> None:
    """``None``: there is no spooler (uWSGI returns ``True`` or ``None``)."""
    return None


def log(message: str) -> bool:
    """Write ``message`` and a newline to the uWSGI log; always ``True``."""
    if not isinstance(message, str):
        raise TypeError(f"log() argument 1 must be str, not {type(message).__name__}")
    _log(message)
    return True


# -- sending -------------------------------------------------------------------------------

_SHARED = object()


def _send_failed(message: bytes, target: int | str, reason: str) -> bool:
    _words[_i_dropped] += 1  # type: ignore[index]
    if _words[HeaderFlag.MESSAGE_EVENTS]:  # type: ignore[index]
        _reporter.send((reports.DROPPED, _slot, target, len(message), reason))  # type: ignore[union-attr]
    return False


def _write_queue(fd: int, message: bytes, target: int | str) -> bool:
    try:
        os.write(fd, message)
    except BlockingIOError:
        _log(
            f"*** MULE MSG QUEUE IS FULL: buffer size {_queue_bufsize} bytes "
            "(you can tune it with --mule-msg-size) ***"
        )
        return _send_failed(message, target, "queue full")
    except OSError as error:
        _log(f"mule_send_msg(): {error.strerror} [core/mule.c line 28]")
        return _send_failed(message, target, "too large" if error.errno == errno.EMSGSIZE else str(error))
    _words[_i_out] += 1  # type: ignore[index]
    if _words[HeaderFlag.MESSAGE_EVENTS]:  # type: ignore[index]
        _reporter.send((reports.SENT, _slot, target, len(message), _preview(message)))  # type: ignore[union-attr]
    return True


def mule_msg(message: str | bytes, mule: object = _SHARED, /) -> bool:
    """Queue ``message`` for mule ``mule`` (int), the shared queue (omitted or 0) or a farm (bytes).

    Returns ``True`` once queued, ``False`` (with uWSGI's log line) when the queue is full or
    the message too large. Never blocks.
    """
    if type(message) is not bytes:
        message = _message_bytes(message, "mule_msg")
    if not _mule_count:
        raise ValueError("no mule configured")
    if mule is _SHARED:
        return _write_queue(_send_fds[0], message, 0)
    if isinstance(mule, int):
        target = int(mule)
        if 0 <= target <= _mule_count:
            return _write_queue(_send_fds[target], message, target)
        _log("mule_send_msg(): Bad file descriptor [core/mule.c line 28]")
        _warn(
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
        raise TypeError(f"farm_msg() argument 1 must be str, not {type(farm).__name__}")
    message = _message_bytes(message, "farm_msg")
    fd = _farm_send_fds.get(farm)
    if fd is None:
        return None
    try:
        os.write(fd, message)
    except OSError as error:
        _log(f"write(): {error.strerror} [plugins/python/uwsgi_pymodule.c line 1235]")
        _send_failed(message, farm, "queue full" if isinstance(error, BlockingIOError) else str(error))
        return None
    _words[_i_out] += 1  # type: ignore[index]
    if _words[HeaderFlag.MESSAGE_EVENTS]:  # type: ignore[index]
        _reporter.send((reports.SENT, _slot, farm, len(message), _preview(message)))  # type: ignore[union-attr]
    return None


# -- receiving -----------------------------------------------------------------------------


def _received(data: bytes, queue: str, buffer_size: int) -> bytes:
    _words[_i_in] += 1  # type: ignore[index]
    if _words[HeaderFlag.MESSAGE_EVENTS]:  # type: ignore[index]
        _reporter.send(  # type: ignore[union-attr]
            (reports.RECEIVED, _slot, queue, len(data), _preview(data), buffer_size)
        )
    return data


def _wait_and_read(
    sources: list[tuple[int, str]], buffer_size: int, timeout: int, activity: Activity
) -> bytes | None:
    """Read one datagram from the first ready source, in priority order.

    Returns ``None`` on timeout (``timeout`` in seconds, negative = forever). Several threads
    may wait on the same sources: the kernel hands each datagram to one reader, the others
    see ``EAGAIN`` and wait again.
    """
    poller = select.poll()
    for fd, _name in sources:
        poller.register(fd, select.POLLIN)
    deadline = None if timeout < 0 else time.monotonic() + timeout
    _words[_i_activity] = activity  # type: ignore[index]
    try:
        while True:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic()) * 1000
            ready = {fd for fd, _event in poller.poll(remaining)}
            if not ready:
                return None
            for fd, name in sources:
                if fd not in ready:
                    continue
                if buffer_size <= 0:
                    return b""  # uWSGI reads nothing: the message stays queued
                try:
                    data = os.read(fd, buffer_size)
                except BlockingIOError:
                    continue  # another reader won the race
                return _received(data, name, buffer_size)
            if deadline is not None and time.monotonic() >= deadline:
                return None
    finally:
        _words[_i_activity] = Activity.RUNNING  # type: ignore[index]


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
    value makes the call also take signals (then it runs the handler and returns ``None``).
    """
    if unknown:
        raise TypeError(f"'{next(iter(unknown))}' is an invalid keyword argument for mule_get_msg()")
    for value in (buffer_size, timeout):
        if not isinstance(value, int):
            raise TypeError(f"'{type(value).__name__}' object cannot be interpreted as an integer")
    if not _mule_id:
        raise ValueError("you can receive mule messages only in a mule !!!")
    if buffer_size > 0:
        try:
            return _received(os.read(_own_recv_fd, buffer_size), "own", buffer_size)
        except BlockingIOError:
            pass
    sources = [(_own_recv_fd, "own"), (_shared_recv_fd, "shared")]
    if not (farms is None or farms is False):
        sources += _farm_recv_fds
    data = _wait_and_read(sources, buffer_size, timeout, Activity.WAITING_MESSAGE)
    return b"" if data is None else data


def farm_get_msg() -> bytes | None:
    """Wait, without timeout and without signals, for a message on this mule's farm queues.

    A mule in no farm blocks forever, as in uWSGI (muletui warns once).
    """
    if not _mule_id:
        raise ValueError("you can receive farm messages only in a mule !!!")
    if not _farm_recv_fds:
        _warn(f"mule {_mule_id} called farm_get_msg() but is in no farm: it blocks forever, as in uWSGI")
    return _wait_and_read(_farm_recv_fds, _RECEIVE_BUFFER, -1, Activity.WAITING_FARM)


def in_farm(name: str | None = None, /) -> bool | None:
    """``True`` if this mule is in farm ``name`` (any farm if omitted), else ``None``."""
    if name is not None and not isinstance(name, str):
        raise TypeError(f"in_farm() argument 1 must be str, not {type(name).__name__}")
    if not _mule_id or not _my_farms:
        return None
    if name is None or name in _my_farms:
        return True
    return None


def _receive_for_signal_loop(fd: int, queue: str) -> bytes | None:
    """One datagram for the signal-mode loop (64 KiB buffer), or ``None`` if another reader won."""
    try:
        data = os.read(fd, _RECEIVE_BUFFER)
    except BlockingIOError:
        return None
    return _received(data, queue, _RECEIVE_BUFFER)
