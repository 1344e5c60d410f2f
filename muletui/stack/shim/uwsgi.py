"""muletui's ``uwsgi`` module: uWSGI 2.0.30's Python API for mules, quirks included.

Importable only inside stack processes (the stack root puts this directory first on
``sys.path``). The calls live in :mod:`muletui.stack.messaging`, :mod:`~muletui.stack.signals`
and :mod:`~muletui.stack.locks`; this module gathers them under uWSGI's names, adds the
process's identity, and is bound to its process by :func:`_bind` (the stack root before it
imports the app, each mule again right after fork).
"""

from __future__ import annotations

import os
import signal as signal_module
import socket

from muletui import UWSGI_VERSION
from muletui.ipc.spec import StackSpec
from muletui.stack import context, elsewhere, locks, messaging, signals
from muletui.stack.builtin_calls import Arguments, builtin
from muletui.stack.context import type_name, warn
from muletui.stack.elsewhere import (
    SPOOL_IGNORE,
    SPOOL_OK,
    SPOOL_RETRY,
    add_var,
    async_connect,
    async_sleep,
    cache_clear,
    cache_dec,
    cache_del,
    cache_div,
    cache_exists,
    cache_get,
    cache_inc,
    cache_keys,
    cache_mul,
    cache_num,
    cache_set,
    cache_update,
    call,
    chunked_read,
    chunked_read_nb,
    close,
    connect,
    embedded_data,
    extract,
    get_logvar,
    is_connected,
    mem,
    metric_dec,
    metric_div,
    metric_get,
    metric_inc,
    metric_mul,
    metric_set,
    metric_set_max,
    metric_set_min,
    micros,
    parsefile,
    recv,
    register_rpc,
    rpc,
    rpc_list,
    send,
    sendfile,
    set_logvar,
    start_response,
    wait_fd_read,
    wait_fd_write,
    websocket_handshake,
    websocket_recv,
    websocket_recv_nb,
    websocket_send,
    websocket_send_binary,
    workers,
)
from muletui.stack.locks import lock, unlock
from muletui.stack.messaging import farm_get_msg, farm_msg, mule_get_msg, mule_msg
from muletui.stack.signals import signal, signal_received

__all__ = [
    "SPOOL_IGNORE", "SPOOL_OK", "SPOOL_RETRY", "SymbolsImporter", "SymbolsZipImporter",
    "ZipImporter", "accepting", "add_cron", "add_file_monitor", "add_rb_timer", "add_timer",
    "add_var", "alarm", "applications", "async_connect", "async_sleep", "buffer_size",
    "cache_clear", "cache_dec", "cache_del", "cache_div", "cache_exists", "cache_get", "cache_inc",
    "cache_keys", "cache_mul", "cache_num", "cache_set", "cache_update", "call", "chunked_read",
    "chunked_read_nb", "cl", "close", "connect", "connection_fd", "cores", "disconnect",
    "embedded_data", "extract", "farm_get_msg", "farm_msg", "get_logvar", "green_schedule",
    "has_threads", "hostname", "i_am_the_spooler", "in_farm", "is_a_reload", "is_connected",
    "is_locked", "listen_queue", "lock", "log", "log_this_request", "logsize", "loop",
    "magic_table", "masterpid", "mem", "metric_dec", "metric_div", "metric_get", "metric_inc",
    "metric_mul", "metric_set", "metric_set_max", "metric_set_min", "micros", "mule_get_msg",
    "mule_id", "mule_msg", "numproc", "offload", "opt", "parsefile", "ready", "ready_fd", "recv",
    "register_rpc", "register_signal", "reload", "request_id", "route", "rpc", "rpc_list", "send",
    "sendfile", "set_logvar", "set_user_harakiri", "set_warning_message", "setprocname", "signal",
    "signal_received", "signal_registered", "signal_wait", "sockets", "start_response",
    "started_on", "stop", "suspend", "total_requests", "unbit", "unlock", "version", "version_info",
    "wait_fd_read", "wait_fd_write", "websocket_handshake", "websocket_recv", "websocket_recv_nb",
    "websocket_send", "websocket_send_binary", "worker_id", "workers",
]

version: bytes = UWSGI_VERSION.encode()
hostname: bytes = socket.gethostname().encode()
numproc: int = 1
started_on: int = 0
opt: dict[str, bytes | bool] = {}
version_info: tuple[int, int, int, int, bytes] = (2, 0, 30, 0, b"")
buffer_size: int = 4096
cores: int = 1
has_threads: int = 1  # pyuwsgi enables threads
is_a_reload: bool = False
sockets: list[int] = []  # the listening sockets' descriptors, in a worker
magic_table: dict[bytes, bytes] = {}
applications = loop = unbit = None

# The calls a program makes once or now and then fail as uWSGI's C functions do (see
# builtin_calls); the message, signal and lock calls of its loops are left as they are.
register_signal = builtin(Arguments(3, 3))(signals.register_signal)
signal_registered = builtin(Arguments(1, 1))(signals.signal_registered)
add_timer = builtin(Arguments(2, 2))(signals.add_timer)
add_rb_timer = builtin(Arguments(2, 3))(signals.add_rb_timer)
add_cron = builtin(Arguments(6, 6))(signals.add_cron)
add_file_monitor = builtin(Arguments(2, 2))(signals.add_file_monitor)
set_user_harakiri = builtin(Arguments(1, 1))(signals.set_user_harakiri)
signal_wait = builtin(Arguments(0, 1, shown=""))(messaging.signal_wait)
in_farm = builtin(Arguments(0, 1))(messaging.in_farm)
is_locked = builtin()(locks.is_locked)

_mule_id = 0
_worker_id = 0
_masterpid = 0
_ready = False


def _bind(spec: StackSpec, mule_id: int, worker_id: int = 0) -> None:
    """Make this module speak for the calling process: the stack root (both ids 0), mule
    ``mule_id`` or worker ``worker_id``."""
    global numproc, started_on, opt, _mule_id, _worker_id, _masterpid
    bound = context.bind(spec, mule_id, worker_id)
    messaging.bind(bound)
    signals.bind(bound)
    locks.bind(bound)
    numproc, started_on, opt = spec.numproc, spec.started_on, dict(spec.opt)
    _mule_id, _worker_id, _masterpid = mule_id, worker_id, spec.masterpid
    sockets[:] = [fd for _protocol, fd in spec.listeners] if worker_id else []
    if not magic_table:
        from muletui.config.magic import process_variables  # noqa: PLC0415 - once, in the stack root

        magic_table.update({key.encode(): value.encode() for key, value in process_variables().items() if key != "b"})


def mule_id() -> int:
    """This mule's id (1..M); 0 outside mules."""
    return _mule_id


def worker_id() -> int:
    """This worker's id (1..N); 0 in mules and the master."""
    return _worker_id


def masterpid() -> int:
    """The pid of the muletui master process."""
    return _masterpid


def i_am_the_spooler() -> None:
    """``None``: there is no spooler (uWSGI returns ``True`` or ``None``)."""
    return


@builtin(Arguments(1, 1))
def log(message: str, /) -> bool:
    """Write ``message`` and a newline to the uWSGI log; always ``True``."""
    if not isinstance(message, str):
        raise TypeError(f"log() argument 1 must be str, not {type_name(message)}")
    context.log(message)
    return True


def reload() -> bool:
    """``True``; uWSGI then reloads the whole instance. muletui does not reload from inside the
    stack: it warns (reload the mules from the console or with SIGHUP headless)."""
    warn("uwsgi.reload(): muletui does not reload the stack from inside it (uWSGI reloads master, app and mules)")
    return True


def stop() -> bool:
    """Stop the stack, as uWSGI's ``stop()`` stops the instance: ``True``."""
    os.kill(_masterpid, signal_module.SIGINT)
    return True


def ready() -> bool | None:
    """uWSGI's "ready" flag: ``None`` while the app imports, ``True`` once it was imported
    (loaded or not) and the mules may fork: in every mule, and in the app's own threads."""
    return True if _ready else None


def _mark_ready() -> None:
    """The stack root imported the app; its mules inherit the flag."""
    global _ready
    _ready = True


# Calls that answer as pyuwsgi 2.0.30 does outside a request, with no plugin for them loaded.
accepting = alarm = disconnect = log_this_request = setprocname = elsewhere._none
cl = connection_fd = listen_queue = logsize = request_id = total_requests = elsewhere.zero
green_schedule = set_warning_message = suspend = elsewhere.true
offload = elsewhere.empty
ready_fd = route = elsewhere.minus_one


class SymbolsImporter:
    """uWSGI's import hook for modules embedded in the binary: muletui embeds none."""

    def find_module(self, fullname: str, path: object = None) -> None:
        return None


class ZipImporter(SymbolsImporter):
    """uWSGI's zip import hook; ``zipimport`` does the same job outside uWSGI."""

    def __init__(self, name: str, /) -> None:
        self.name = name


class SymbolsZipImporter(ZipImporter):
    """uWSGI's import hook for zip archives embedded in the binary: muletui embeds none."""


def __dir__() -> list[str]:
    """``dir(uwsgi)`` as pyuwsgi's built-in module answers it: its names and what was set on it
    since (``uwsgidecorators`` sets three hooks), not muletui's. Python's "Did you mean" hint for
    a misspelt name picks from these."""
    return [name for name in globals() if name not in _MULETUI_NAMES]


_PYUWSGI_DUNDERS = frozenset({"__doc__", "__loader__", "__name__", "__package__", "__spec__"})
_MULETUI_NAMES = frozenset(globals()) - _PYUWSGI_DUNDERS - set(__all__) | {"_MULETUI_NAMES"}
