"""The rest of uWSGI 2.0.30's ``uwsgi`` module: calls for features a mule stack does not run.

Caches, metrics, RPC, sockets, requests and websockets belong to workers and plugins muletui
does not emulate. Each call still exists and answers as pyuwsgi 2.0.30 answers in a mule or at
app import when the feature is not configured (measured: README "The rest of the uwsgi
module"). Calls that need a request crash the calling process in uWSGI (segmentation fault,
then a respawn); here they raise the ``SystemError`` uWSGI raises for a request-less call in a
thread, and warn once naming the crash.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable

from muletui.ipc.stats_block import Field, worker_status
from muletui.stack import context as stack_context
from muletui.stack.context import log, slot_of, type_name, warn

SPOOL_OK = -2
SPOOL_RETRY = -1
SPOOL_IGNORE = 0

_rpc: dict[str, Callable[..., object]] = {}
_warned: set[str] = set()
_NO_REQUEST = "you can call uwsgi api function only from the main callable"


def _needs_request(name: str) -> Callable[..., object]:
    def call(*_args: object, **_kwargs: object) -> object:
        if name not in _warned:
            _warned.add(name)
            warn(f"uwsgi.{name}() needs a request: uWSGI crashes the calling process (segmentation fault)")
        raise SystemError(_NO_REQUEST)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = "Needs a request: raises ``SystemError`` (uWSGI crashes the caller)."
    return call


add_var = _needs_request("add_var")
chunked_read = _needs_request("chunked_read")
chunked_read_nb = _needs_request("chunked_read_nb")
sendfile = _needs_request("sendfile")
start_response = _needs_request("start_response")
websocket_recv = _needs_request("websocket_recv")
websocket_recv_nb = _needs_request("websocket_recv_nb")
websocket_send = _needs_request("websocket_send")
websocket_send_binary = _needs_request("websocket_send_binary")
_logvar_in_mule = _needs_request("logvar")


def get_logvar(name: str, /) -> None:
    """``None`` at app import; in a mule it needs a request (uWSGI crashes)."""
    import uwsgi  # noqa: PLC0415 - the bound shim (sys.modules["uwsgi"]), which imports this module

    if uwsgi.mule_id():
        _logvar_in_mule()


def set_logvar(name: str, value: str, /) -> None:
    """``None`` at app import; in a mule it needs a request (uWSGI crashes)."""
    return get_logvar(name)


# -- caches (none configured) -------------------------------------------------------------


def _none(*_args: object) -> None:
    return None


cache_get = cache_set = cache_update = cache_exists = cache_del = cache_clear = _none
cache_inc = cache_dec = cache_mul = cache_div = _none


def cache_keys(*_args: object) -> None:
    """No cache: uWSGI's ``ValueError``."""
    raise ValueError("no local uWSGI cache available")


def cache_num(*_args: object) -> int:
    return 0


# -- metrics (none configured) ------------------------------------------------------------

metric_set = metric_inc = metric_dec = metric_mul = metric_div = metric_set_max = metric_set_min = _none


def metric_get(name: str, /) -> int:
    return 0


# -- RPC ----------------------------------------------------------------------------------


def register_rpc(name: str, function: Callable[..., object], argc: int = 0, /) -> bool:
    """``True`` in the master (app import); mules cannot register (uWSGI's log line, ValueError)."""
    import uwsgi  # noqa: PLC0415 - the bound shim

    if uwsgi.mule_id():
        log("only the master and the workers can register RPC functions")
        raise ValueError("unable to register rpc function")
    _rpc[name] = function
    log(f'registered shared/inherited RPC function "{name}"')
    return True


def rpc_list() -> tuple[bytes, ...]:
    return tuple(name.encode() for name in _rpc)


def call(name: str, /, *_args: object) -> None:
    """RPC calls go through workers, which muletui does not run: uWSGI's ``ValueError``."""
    raise ValueError("unable to call rpc function")


def rpc(node: object, name: str, /, *_args: object) -> None:
    raise ValueError("unable to call rpc function")


# -- sockets and descriptors --------------------------------------------------------------


def _open(address: str, blocking: bool) -> int:
    if ":" in address and not address.startswith("/"):
        host, _, port = address.rpartition(":")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        target: object = (host or "0.0.0.0", int(port))
    else:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        target = address
    sock.setblocking(blocking)
    error = sock.connect_ex(target)  # type: ignore[arg-type]
    if blocking and error:
        sock.close()
        return -1
    return sock.detach()


def connect(address: str, timeout: int = 0, /) -> int:
    """A connected descriptor to ``host:port`` or a unix path, or -1."""
    return _open(address, True)


def async_connect(address: str, /) -> int:
    """A descriptor with a non-blocking connect to ``address`` under way."""
    return _open(address, False)


def close(fd: int, /) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def is_connected(fd: int, /) -> bool:
    try:
        sock = socket.socket(fileno=os.dup(fd))
    except OSError:
        return False
    try:
        return sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
    except OSError:
        return False
    finally:
        sock.close()


def recv(fd: int, size: int = 4096, /) -> bytes | None:
    """Up to ``size`` bytes read from ``fd``, or ``None`` if nothing could be read."""
    try:
        data = os.read(fd, size)
    except OSError:
        return None
    return data or None


def send(*args: object) -> None:
    """``send(data)`` writes to the request's descriptor (0 outside a request), ``send(fd, data)``
    to ``fd``; a failed write is logged as uWSGI logs it."""
    fd, data = (0, args[0]) if len(args) == 1 else args[:2]
    if not isinstance(data, bytes) or not isinstance(fd, int):
        raise TypeError(f"a bytes-like object is required, not '{type_name(data)}'")
    try:
        os.write(fd, data)
    except OSError as error:
        log(f"write(): {error.strerror} [plugins/python/uwsgi_pymodule.c line 706]")


def wait_fd_read(fd: int, timeout: int = 0, /) -> None:
    """No async loop: uWSGI's ``OSError``."""
    raise OSError(f"unable to fd {fd} to the event queue")


def wait_fd_write(fd: int, timeout: int = 0, /) -> None:
    raise OSError(f"unable to fd {fd} to the event queue")


def websocket_handshake(*_args: object) -> None:
    """pyuwsgi is built without SSL: uWSGI's log line and ``OSError``."""
    log("you need to build uWSGI with SSL support to use the websocket handshake api function !!!")
    raise OSError("unable to complete websocket handshake")


def async_sleep(seconds: int = 0, /) -> bytes:
    log(f"{time.strftime('%a %b %d %H:%M:%S %Y')} - ASYNC call without async mode !!!")
    return b""


def embedded_data(name: str, /) -> None:
    raise ValueError(f"unable to find symbol {name}")


def extract(path: str, /) -> bytes:
    """The bytes of file ``path`` (uWSGI exits the caller when it is missing: here ``OSError``)."""
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as error:
        log(f'open("{path}"): {error.strerror} [core/io.c line 525]')
        warn(f"uwsgi.extract({path!r}): uWSGI exits the calling process here")
        raise


def parsefile(path: str, /) -> None:
    return None


# -- process facts ------------------------------------------------------------------------


def mem() -> tuple[int, int]:
    """(rss, vsz) of this process in bytes."""
    with open("/proc/self/statm") as statm:
        size, resident = (int(field) for field in statm.read().split()[:2])
    page = os.sysconf("SC_PAGE_SIZE")
    return resident * page, size * page


def micros() -> int:
    return time.time_ns() // 1000


def workers() -> tuple[dict[str, object], ...]:
    """A record per worker, as uWSGI's ``workers()`` gives them, from the stats block (``pid`` 0
    while a worker is down; rss, vsz and spawn times are not kept: 0)."""
    import uwsgi  # noqa: PLC0415 - the bound shim

    context = stack_context.current
    assert context is not None, "the shim is bound before user code runs"
    records = []
    for worker in range(1, uwsgi.numproc + 1):
        record = context.stats.record(slot_of(context.spec, 0, worker)) if worker <= context.spec.workers else None
        requests = record[Field.REQUESTS] if record else 0
        records.append({
            "id": worker, "pid": record[Field.PID] if record else 0, "requests": requests, "delta_requests": 0,
            "signals": record[Field.SIGNALS_HANDLED] if record else 0,
            "exceptions": record[Field.EXCEPTIONS] if record else 0,
            "status": worker_status(record[Field.ACTIVITY], record[Field.ACTIVITY_ARG]).encode() if record else b"idle",
            "rss": 0, "vsz": 0, "running_time": record[Field.RUNNING_TIME] if record else 0, "last_spawn": 0,
            "respawn_count": 0, "tx": record[Field.TX] if record else 0,
            "avg_rt": record[Field.AVG_RT] if record else 0, "apps": (),
        })
    return tuple(records)


def zero(*_args: object) -> int:
    return 0


def true(*_args: object) -> bool:
    return True


def empty(*_args: object) -> bytes:
    return b""


def minus_one(*_args: object) -> int:
    return -1
