"""muletui's ``uwsgi`` module: uWSGI 2.0.30's Python API for mules, quirks included.

Importable only inside stack processes (the stack root puts this directory first on
``sys.path``). The calls live in :mod:`muletui.stack.messaging`, :mod:`~muletui.stack.signals`
and :mod:`~muletui.stack.locks`; this module gathers them under uWSGI's names, adds the
process's identity, and is bound to its process by :func:`_bind` (the stack root before it
imports the app, each mule again right after fork).
"""

from __future__ import annotations

import socket

from muletui import UWSGI_VERSION
from muletui.ipc.spec import StackSpec
from muletui.stack import context, locks, messaging, signals
from muletui.stack.context import type_name
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
    "add_cron", "add_file_monitor", "add_rb_timer", "add_timer", "farm_get_msg", "farm_msg",
    "hostname", "i_am_the_spooler", "in_farm", "is_locked", "lock", "log", "masterpid",
    "mule_get_msg", "mule_id", "mule_msg", "numproc", "opt", "register_signal", "set_user_harakiri",
    "signal", "signal_received", "signal_registered", "signal_wait", "started_on", "unlock",
    "version", "worker_id",
]

version: bytes = UWSGI_VERSION.encode()
hostname: bytes = socket.gethostname().encode()
numproc: int = 1
started_on: int = 0
opt: dict[str, bytes | bool] = {}

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
