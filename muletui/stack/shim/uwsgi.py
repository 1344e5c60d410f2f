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
from muletui.stack.locks import is_locked, lock, unlock
from muletui.stack.messaging import farm_get_msg, farm_msg, in_farm, mule_get_msg, mule_msg, signal_wait
from muletui.stack.signals import (
    add_cron,
    add_file_monitor,
    add_rb_timer,
    add_timer,
    register_signal,
    set_user_harakiri,
    signal,
    signal_received,
    signal_registered,
)

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
sockets: list[int] = []  # muletui binds no sockets
magic_table: dict[bytes, bytes] = {}
applications = loop = unbit = None

_mule_id = 0
_masterpid = 0


def _bind(spec: StackSpec, mule_id: int) -> None:
    """Make this module speak for the calling process: the stack root (0) or mule ``mule_id``."""
    global numproc, started_on, opt, _mule_id, _masterpid
    bound = context.bind(spec, mule_id)
    messaging.bind(bound)
    signals.bind(bound)
    locks.bind(bound)
    numproc, started_on, opt = spec.numproc, spec.started_on, dict(spec.opt)
    _mule_id, _masterpid = mule_id, spec.masterpid
    if not magic_table:
        from muletui.config.magic import process_variables  # noqa: PLC0415 - once, in the stack root

        magic_table.update({key.encode(): value.encode() for key, value in process_variables().items() if key != "b"})


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
    return


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
    """``None`` at app import, ``True`` in a mule (uWSGI's "workers ready" flag as they see it)."""
    return True if _mule_id else None


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
