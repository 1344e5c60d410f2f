"""uWSGI signals inside stack processes: the handler table, raising, taking and running signals,
and the requests for timers, rb timers, cron entries and file monitors (the master runs those).

A uWSGI signal is one byte. Raising writes ``(slot, number)`` into the master's raise channel;
the master routes it by its table and writes one byte into the receivers' signal sockets; the
receiving process runs the handler from its own table (inherited from the stack root at fork).
Behaviour follows ``shared/reference/uwsgi-behaviour.md`` §3 and §4.
"""

from __future__ import annotations

import fcntl
import os
import socket
import struct
import sys
import time
from collections.abc import Callable

from muletui.ipc import reports
from muletui.ipc.spec import TABLE_LOCK_OFFSET
from muletui.ipc.stats_block import Activity, Field, HeaderFlag
from muletui.ipc.targets import atoi
from muletui.stack import tracebacks
from muletui.stack.context import Context, log, type_name

TABLE_LIMIT = 64  # uWSGI's timers, rb timers, crons and file monitors: 64 entries each
MAX_TARGET = 63
MAX_PATH = 255

_handlers: dict[int, tuple[str, Callable[[int], object]]] = {}
_routes: dict[int, list[tuple[str, int]] | None] = {}  # signal -> sockets, cached per process
_context: Context | None = None
_slot = 0  # this process's stats slot (the Context computes it at every ask)
_raise_fd = -1
_raise_bufsize = 0
_signal_fds: list[int] = []  # sockets mule_get_msg(signals=False) and signal_wait poll
_last_taken = 0
_signal_received = 0
# run_handler's stats words, resolved once per process (IntEnum lookups cost on a hot path)
_words: memoryview = memoryview(bytearray(8)).cast("Q")
_i_activity = _i_activity_arg = _i_harakiri_signal = _i_harakiri_at = _i_handled = 0
_harakiri_ns = 0
_HANDLING_SIGNAL = int(Activity.HANDLING_SIGNAL)
_DETAIL_EVENTS = int(HeaderFlag.DETAIL_EVENTS)
_RUNNING = int(Activity.RUNNING)
_SIGNAL_BYTES = [bytes((signum,)) for signum in range(256)]
_monotonic = time.monotonic
# This process's reporter, bound by bind(); called only while the master asks for events.
_admit: Callable[[], bool]
_post: Callable[[reports.Report], None]


def bind(context: Context) -> None:
    global _context, _slot, _raise_fd, _raise_bufsize, _signal_fds, _words, _harakiri_ns, _admit, _post
    global _i_activity, _i_activity_arg, _i_harakiri_signal, _i_harakiri_at, _i_handled
    _context, _slot = context, context.slot
    _admit, _post = context.reporter.admit, context.reporter.post
    _words = context.stats.words
    _i_activity, _i_activity_arg = context.index(Field.ACTIVITY), context.index(Field.ACTIVITY_ARG)
    _i_harakiri_signal, _i_harakiri_at = context.index(Field.HARAKIRI_SIGNAL), context.index(Field.HARAKIRI_AT)
    _i_handled = context.index(Field.SIGNALS_HANDLED)
    spec = context.spec
    _harakiri_ns = spec.mule_harakiri * 1_000_000_000 if context.mule_id else 0  # --harakiri is not emulated
    _raise_fd = spec.raise_fd
    if not _raise_bufsize:
        _raise_bufsize = send_buffer_size(_raise_fd)
    if context.mule_id:
        _signal_fds = [spec.shared_signal.recv, spec.mule_signals[context.mule_id].recv]
    elif context.worker_id and spec.shared_worker_signal is not None:
        _signal_fds = [spec.shared_worker_signal.recv, spec.worker_signals[context.worker_id].recv]
    else:
        _signal_fds = []


def send_buffer_size(fd: int) -> int:
    """SO_SNDBUF of ``fd``, as uWSGI prints it in its "QUEUE IS FULL" lines."""
    probe = socket.socket(fileno=os.dup(fd))
    try:
        return probe.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
    finally:
        probe.close()


def signal_number(value: object) -> int:
    """uWSGI's ``B`` argument format: any int, reduced modulo 256; anything else a TypeError."""
    if not isinstance(value, int):
        raise TypeError(f"'{type(value).__name__}' object cannot be interpreted as an integer")
    return int(value) & 0xFF


def _integer(value: object) -> int:
    if not isinstance(value, int):
        raise TypeError(f"'{type(value).__name__}' object cannot be interpreted as an integer")
    return int(value)


def _report(report: reports.Report, always: bool = False) -> None:
    assert _context is not None
    if always:
        _context.reporter.send_always(report)
    else:
        _context.reporter.send(report)


def own_signal_fds() -> list[int]:
    """The shared signal socket of this process's kind and its own one (a mule's or a worker's;
    empty in the stack root)."""
    return _signal_fds


# -- the handler table ---------------------------------------------------------------------


def register_signal(num: object, target: str, handler: Callable[[int], object], /) -> None:
    """Register ``handler`` for signal ``num`` (mod 256) delivered to ``target``; master side only."""
    signum = signal_number(num)
    if not isinstance(target, str):
        raise TypeError(f"register_signal() argument 2 must be str, not {type_name(target)}")
    assert _context is not None
    if _context.mule_id:
        log("only the master and the workers can register signal handlers")
        raise ValueError("unable to register signal")
    if len(target) > MAX_TARGET:
        raise ValueError("unable to register signal")
    worker_id = _context.worker_id
    if signum in _handlers and not worker_id:
        log("[uwsgi-signal] you cannot re-register a signal as the master !!!")
        raise ValueError("unable to register signal")
    _handlers[signum] = (target, handler)
    _routes.pop(signum, None)
    shown = target or "default, any worker"
    log(f"[uwsgi-signal] signum {signum} registered (wid: {worker_id} modifier1: 0 target: {shown})")
    if worker_id:  # only this worker's slot: the master routes by its own table, as uWSGI's
        return
    name = getattr(handler, "__qualname__", None) or repr(handler)
    _report((reports.REGISTERED, 0, signum, target, name, _registration_site()), always=True)


_STACK_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep  # muletui.stack and the shim


def _registration_site() -> str:
    """``app.py:12``: the user's line that registered the signal (the first frame outside
    muletui's stack code, so a ``@signal`` decorator names the line that applied it)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_STACK_DIR):
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None:
        return ""
    return f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"


def signal_registered(num: object, /) -> bool | None:
    """``True`` if ``num`` has a handler in this process's table, else ``None``."""
    return True if signal_number(num) in _handlers else None


# -- raising -------------------------------------------------------------------------------


def _local_route(signum: int) -> list[tuple[str, int]] | None:
    """Signal sockets for a registered mule or farm target, as ``(name, fd)``; ``None`` when only
    the master can route it (unregistered, worker, spooler, invalid or unsupported targets)."""
    if signum in _routes:
        return _routes[signum]
    assert _context is not None
    spec = _context.spec
    entry = _handlers.get(signum)
    target = entry[0] if entry is not None else ""
    route: list[tuple[str, int]] | None = None
    if target == "mules":
        route = [(f"mule {m.mule_id}", spec.mule_signals[m.mule_id].send) for m in spec.mules]
    elif target.startswith("mule"):
        mule_id = atoi(target[4:])
        if mule_id == 0:
            route = [("a mule", spec.shared_signal.send)]
        elif mule_id in spec.mule_signals:
            route = [(f"mule {mule_id}", spec.mule_signals[mule_id].send)]
    elif target.startswith("farm"):
        by_name = target.startswith("farm_")
        farm = next((f for f in spec.farms if (f.name == target[5:] if by_name else f.index == atoi(target[4:]))), None)
        if farm is not None:
            route = [(f"farm 0 ({farm.name})", spec.farm_signals[farm.index].send)]
    _routes[signum] = route
    return route


def signal(num: object, node: object = None, /) -> None:
    """Raise ``num``. A mule or farm target is routed here, by this process's copy of the table
    (the master's, inherited at fork), saving a hop through the master; the master routes the
    rest. With ``node`` ("host:port"), send it to a uWSGI node instead."""
    signum = signal_number(num)
    if node is not None:
        _remote_signal(signum, node)
        return
    if not _slot:
        # The stack root runs user code only while it imports the app: uWSGI's master has no
        # signal socket yet then, so the signal is lost with this line (pyuwsgi 2.0.30).
        log("uwsgi_signal_send(): Bad file descriptor [core/signal.c line 306]")
        return
    route = _local_route(signum)
    if route is not None:
        _deliver(signum, route)
        return
    to_master(signum)


def to_master(signum: int) -> bool:
    """Write ``signum`` into the master's raise channel for it to route; ``False`` (with
    uWSGI's line) when the channel is full. A worker forwards a remote signal this way."""
    try:
        os.write(_raise_fd, reports.RAISE_FORMAT.pack(_slot, signum))
    except BlockingIOError:
        log(
            f"*** SIGNAL QUEUE IS FULL: buffer size {_raise_bufsize} bytes "
            "(you can tune it with --signal-bufsize) ***"
        )
        return False
    return True


def _deliver(signum: int, route: list[tuple[str, int]]) -> None:
    """Write the signal byte into each socket, with the master's lines when one is full."""
    byte = _SIGNAL_BYTES[signum]
    dropped: tuple[str, ...] = ()
    for name, fd in route:
        try:
            os.write(fd, byte)
        except BlockingIOError:
            log(
                f"*** SIGNAL QUEUE IS FULL: buffer size {send_buffer_size(fd)} bytes "
                "(you can tune it with --signal-bufsize) ***"
            )
            log(f"could not deliver signal {signum} to {name}")
            dropped += (name,)
    if _words[_DETAIL_EVENTS] and _admit():
        delivered = tuple(name for name, _fd in route if name not in dropped)
        _post((reports.ROUTED, _slot, signum, delivered, dropped))


def _remote_signal(signum: int, node: object) -> None:
    """uWSGI's remote signal: the 4-byte packet ``6e 00 00 NN`` over TCP, answer ``ff 00 00 ok``."""
    if not isinstance(node, str):
        raise TypeError(f"signal() argument 2 must be str, not {type_name(node)}")
    host, _, port = node.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=3) as sock:
            sock.sendall(bytes((110, 0, 0, signum)))
            reply = sock.recv(4)
    except (OSError, ValueError):
        raise OSError(f"unable to deliver signal {signum} to node {node}") from None
    if len(reply) != 4 or reply[3] != 1:
        raise ValueError(f"node {node} rejected signal {signum}")


# -- receiving -----------------------------------------------------------------------------


def take(fd: int) -> bool:
    """Read one signal byte from ``fd`` and run its handler; ``False`` if another reader won."""
    global _last_taken
    try:
        data = os.read(fd, 1)
    except BlockingIOError:
        return False
    if not data:
        _master_died()
    _last_taken = data[0]
    run_handler(data[0])
    return True


def _master_died() -> None:
    assert _context is not None
    if _context.mule_id:
        log(f"uWSGI mule {_context.mule_id} braying: my master died, i will follow him...")
    else:
        log(f"uWSGI worker {_context.worker_id} screams: UAAAAAAH my master disconnected: i will kill myself !!!")
    os._exit(1)


def run_handler(signum: int) -> None:
    """Run ``signum``'s handler here, under --mule-harakiri; report how it went."""
    words = _words
    entry = _handlers.get(signum)
    ok = entry is not None
    start = _monotonic()
    if entry is not None:
        words[_i_activity] = _HANDLING_SIGNAL
        words[_i_activity_arg] = signum
        if _harakiri_ns:
            words[_i_harakiri_signal] = signum
            words[_i_harakiri_at] = time.monotonic_ns() + _harakiri_ns
        try:
            entry[1](signum)
        except Exception as error:  # noqa: BLE001 - uWSGI prints the traceback and goes on
            tracebacks.print_exception(error)
            ok = False
        finally:
            words[_i_harakiri_at] = 0
            words[_i_activity] = _RUNNING
        words[_i_handled] += 1
    if not ok:
        assert _context is not None
        where = f"mule {_context.mule_id}" if _context.mule_id else f"worker {_context.worker_id}"
        log(f"{time.ctime()} - error managing signal {signum} on {where}")
    if words[_DETAIL_EVENTS] and _admit():  # per-signal reports only on demand
        _post((reports.HANDLED, _slot, signum, _monotonic() - start, ok))


def note_signal_wait() -> None:
    """``signal_wait`` just took a signal: it becomes ``signal_received()``."""
    global _signal_received
    _signal_received = _last_taken


def signal_received() -> int:
    """The last signal taken by ``signal_wait``; 0 before any."""
    return _signal_received


def set_user_harakiri(secs: object, /) -> None:
    """Arm (or with 0, disarm) this process's own harakiri: SIGKILL ``secs`` seconds from now."""
    seconds = _integer(secs)
    assert _context is not None
    deadline = time.monotonic_ns() + seconds * 1_000_000_000 if seconds > 0 else 0
    _context.stats.words[_context.index(Field.USER_HARAKIRI_AT)] = deadline


# -- timers, cron, file monitors: table entries the master activates ------------------------


def record_lock(kind: int, offset: int) -> bytes:
    """A ``struct flock`` for one byte at ``offset`` (for OFD locks: ``l_pid`` must be 0)."""
    return struct.pack("hhqqi4x", kind, os.SEEK_SET, offset, 1, 0)


def _take_table_entry(table: HeaderFlag, what: str) -> bool:
    """Count one more entry in a 64-entry table shared by all stack processes."""
    assert _context is not None
    spec = _context.spec
    words = _context.stats.words
    fd = os.open(f"/proc/self/fd/{spec.lock_fd}", os.O_RDWR)
    try:
        fcntl.fcntl(fd, fcntl.F_OFD_SETLKW, record_lock(fcntl.F_WRLCK, TABLE_LOCK_OFFSET))
        if words[table] >= TABLE_LIMIT:
            log(f"you can register max {TABLE_LIMIT} {what} !!!")
            return False
        words[table] += 1
        return True
    finally:
        os.close(fd)  # closing the open file description drops its lock


def add_timer(num: object, secs: object, /) -> None:
    """Raise ``num`` every ``secs`` seconds, from activation; 0 never fires."""
    signum, seconds = signal_number(num), _integer(secs)
    if not _take_table_entry(HeaderFlag.TIMERS, "timers"):
        raise ValueError("unable to add timer")
    _report((reports.ADD_TIMER, _slot, signum, seconds, 0), always=True)


def add_rb_timer(num: object, secs: object, iterations: object = 0, /) -> None:
    """Raise ``num`` every ``secs`` seconds, ``iterations`` times (0 = forever)."""
    signum, seconds, count = signal_number(num), _integer(secs), _integer(iterations)
    if not _take_table_entry(HeaderFlag.RB_TIMERS, "rb_timers"):
        raise ValueError("unable to add rb_timer")
    _report((reports.ADD_RB_TIMER, _slot, signum, seconds, count), always=True)


def add_cron(*args: object) -> bool:
    """``add_cron(num, minute, hour, day, month, weekday)``: raise ``num`` when the local time
    matches (``-1`` any, ``-N`` every N); returns ``True``.
    """
    if len(args) != 6:
        raise TypeError(f"add_cron() takes exactly 6 arguments ({len(args)} given)")
    signum = signal_number(args[0])
    fields = tuple(_integer(value) for value in args[1:])
    if not _take_table_entry(HeaderFlag.CRONS, "crons"):
        raise ValueError("unable to add cron")
    _report((reports.ADD_CRON, _slot, signum, *fields), always=True)
    return True


def add_file_monitor(num: object, path: str, /) -> None:
    """Raise ``num`` once per batch of changes to ``path`` (not recursive)."""
    signum = signal_number(num)
    if not isinstance(path, str):
        raise TypeError(f"add_file_monitor() argument 2 must be str, not {type_name(path)}")
    if len(path) >= MAX_PATH:
        log("uwsgi_add_file_monitor: invalid filename length")
        raise ValueError("unable to add file monitor")
    if not _take_table_entry(HeaderFlag.FILE_MONITORS, "file monitors"):
        raise ValueError("unable to add file monitor")
    _report((reports.ADD_FILE_MONITOR, _slot, signum, os.path.abspath(path)), always=True)
