"""The stack the master runs, as plain data: what the options and config files amount to."""

from __future__ import annotations

import os
from collections.abc import Mapping

from muletui.ipc.spec import FarmSpec, MuleSpec, SocketSpec
from muletui.record import field, record


@record
class CronCommandSpec:
    """``--cron "MIN HOUR DAY MONTH WEEKDAY COMMAND"`` (``unique``: ``--unique-cron``)."""

    fields: tuple[int, int, int, int, int]
    command: str
    unique: bool = False


@record(frozen=False)
class StackConfig:
    """Mules, farms, the app and the few tunables the engine needs."""

    mules: list[MuleSpec] = field(default_factory=list)
    farms: list[FarmSpec] = field(default_factory=list)
    app: list[tuple[str, str]] = field(default_factory=list)  # ("import" | "file" | "module", value)
    need_app: bool = False  # --need-app: no app loaded stops the stack, with status 22
    pythonpath: list[str] = field(default_factory=list)
    opt: dict[str, bytes | bool] = field(default_factory=dict)  # uwsgi.opt
    numproc: int = 1  # --processes: uwsgi.numproc, and the workers forked when a socket is given
    sockets: list[SocketSpec] = field(default_factory=list)  # --http-socket, --socket, in order
    listen: int = 100  # --listen: every listening socket's backlog
    socket_timeout: int = 4  # --socket-timeout: a connection's read and write timeout, and its deferred accept
    defer_accept: bool = True  # TCP sockets wake a worker once a request's first bytes are in (--no-defer-accept)
    stats: str = ""  # --stats: the stats server's address ('': none; the last one given, as uWSGI)
    stats_minified: bool = False  # --stats-minified: the stats JSON on one line
    mule_msg_size: int = 0
    reload_mercy: float | None = None  # --mule-reload-mercy; None: not given (the master's defaults)
    exit_on_reload: bool = False  # --exit-on-reload: a reload (SIGHUP, SIGTERM) stops the stack
    debug_on_crash: bool = False  # --debug-on-crash: a programmed mule's uncaught exception opens pdb
    chdir: str | None = None
    locks: int = 0  # --locks N: user locks 0..N
    mule_harakiri: int = 0
    touch_mules_reload: list[str] = field(default_factory=list)
    touch_reload: list[str] = field(default_factory=list)  # --touch-reload: reload the whole stack
    py_autoreload: int = 0  # --py-autoreload N: reload the stack when a loaded module changes (0: off)
    py_autoreload_ignore: list[str] = field(default_factory=list)  # --py-auto-reload-ignore: sys.modules keys
    signal_bufsize: int = 0
    timers: list[tuple[int, int]] = field(default_factory=list)  # --timer: (signal, seconds)
    rb_timers: list[tuple[int, int]] = field(default_factory=list)  # --rbtimer
    fs_signals: list[tuple[str, int]] = field(default_factory=list)  # --fs-signal: (path, signal)
    crons: list[CronCommandSpec] = field(default_factory=list)  # --cron, --unique-cron
    #: --env / --unenv in order: (NAME, VALUE) sets, (NAME, None) unsets.
    env: list[tuple[str, str | None]] = field(default_factory=list)
    #: --exec-asap, --exec-pre-app...: (option, shell command) in option order.
    commands: list[tuple[str, str]] = field(default_factory=list)

    @property
    def workers(self) -> int:
        """How many workers run: ``--processes`` (1 by default) when a socket is given, else none."""
        return self.numproc if self.sockets else 0

    def environment(self, base: Mapping[str, str] | None = None) -> dict[str, str] | None:
        """The environment of the stack processes and hook commands: ``base`` (the master's
        ``os.environ``) with :attr:`env` applied in order; ``None`` when there is nothing to apply.

        uWSGI calls ``putenv`` in its master; muletui's master process runs the console, so it keeps
        its own environment and hands this one to the processes that run user code: the stack
        root (which imports the app and forks the mules) and every hook command.
        """
        if not self.env:
            return None
        environment = dict(os.environ if base is None else base)
        for name, value in self.env:
            if value is None:
                environment.pop(name, None)
            else:
                environment[name] = value
        return environment
