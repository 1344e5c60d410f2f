"""muletui's ``uwsgidecorators``: the decorators of uWSGI 2.0.30, with their behaviour and quirks.

See ``shared/reference/uwsgi-behaviour.md`` §7. Importing this module has uWSGI's side effects:
it refuses to load without a master, installs the post-fork chain as ``uwsgi.post_fork_hook``
and the pickle dispatcher as ``uwsgi.mule_msg_hook`` (so every signal-mode mule becomes a
pickle consumer), and sets ``uwsgi.spooler``.
"""

from __future__ import annotations

import pickle
import sys
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

import uwsgi

from muletui.stack import tracebacks

if uwsgi.masterpid() == 0:
    raise Exception("you have to enable the uWSGI master process to use this module")

spooler_functions: dict[str, Callable[..., Any]] = {}
mule_functions: dict[str, Callable[..., Any]] = {}
postfork_chain: list[Callable[[], Any]] = []


def get_free_signal() -> int:
    """The first signal number 0..255 with no handler registered."""
    for signum in range(256):
        if not uwsgi.signal_registered(signum):
            return signum
    raise Exception("No free uwsgi signal available")


def manage_spool_request(vars: dict[Any, Any]) -> int:  # noqa: A002 - uWSGI's name
    """The spooler entry point uWSGI installs; muletui runs no spooler, so it is never called."""
    raise Exception("you have to enable the uWSGI spooler to use this function")


def postfork_chain_hook() -> None:
    for function in postfork_chain:
        function()


uwsgi.spooler = manage_spool_request
uwsgi.post_fork_hook = postfork_chain_hook


class postfork:  # noqa: N801 - uWSGI's names
    """``@postfork`` runs ``f()`` after every fork (workers and mules); ``@postfork(N)`` only in
    worker N, hence never in a mule, and (as in uWSGI) leaves ``None`` as the decorated name."""

    def __init__(self, f: Callable[[], Any] | int) -> None:
        if callable(f):
            self.wid = 0
            self.f: Callable[[], Any] | None = f
        else:
            self.wid = f
            self.f = None
        postfork_chain.append(self)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.f:
            if self.wid > 0 and self.wid != uwsgi.worker_id():
                return None
            return self.f()
        self.f = args[0]
        return None


class _spoolraw:  # noqa: N801
    def __init__(self, f: Callable[..., Any], pass_arguments: bool) -> None:
        if "spooler" not in uwsgi.opt:
            raise Exception(f"you have to enable the uWSGI spooler to use @{self.__class__.__name__} decorator")
        self.f = f
        spooler_functions[f.__name__] = f


class _spool(_spoolraw):  # noqa: N801
    pass


class _spoolforever(_spoolraw):  # noqa: N801
    pass


def spool_decorate(
    f: Callable[..., Any] | None = None, pass_arguments: bool = False, _class: type[_spoolraw] = _spoolraw
) -> Any:
    if not f:
        return partial(_class, pass_arguments=pass_arguments)
    return _class(f, pass_arguments)


def spoolraw(f: Callable[..., Any] | None = None, pass_arguments: bool = False) -> Any:
    return spool_decorate(f, pass_arguments)


def spool(f: Callable[..., Any] | None = None, pass_arguments: bool = False) -> Any:
    return spool_decorate(f, pass_arguments, _spool)


def spoolforever(f: Callable[..., Any] | None = None, pass_arguments: bool = False) -> Any:
    return spool_decorate(f, pass_arguments, _spoolforever)


class mulefunc:  # noqa: N801
    """Calling the decorated function sends a pickled call to a mule (any, id N or farm b'name');
    a signal-mode mule runs it through :func:`mule_msg_dispatcher`."""

    def __init__(self, f: Callable[..., Any] | int | bytes) -> None:
        self.fname: str | None = None
        self.mule: int | bytes = 0
        if callable(f):
            self.fname = f.__name__
            mule_functions[f.__name__] = f
        else:
            self.mule = f

    def real_call(self, *args: Any, **kwargs: Any) -> None:
        message = pickle.dumps({"service": "uwsgi_mulefunc", "func": self.fname, "args": args, "kwargs": kwargs})
        uwsgi.mule_msg(message, self.mule)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not self.fname:
            self.fname = args[0].__name__
            mule_functions[self.fname] = args[0]
            return self.real_call
        return self.real_call(*args, **kwargs)


def mule_msg_dispatcher(message: bytes) -> Any:
    msg = pickle.loads(message)
    if msg["service"] == "uwsgi_mulefunc":
        return mule_functions[msg["func"]](*msg["args"], **msg["kwargs"])
    return None


uwsgi.mule_msg_hook = mule_msg_dispatcher


class rpc:  # noqa: N801
    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, f: Callable[..., Any]) -> Callable[..., Any]:
        uwsgi.register_rpc(self.name, f)
        return f


class farm_loop:  # noqa: N801
    def __init__(self, f: Callable[[bytes], Any], farm: str) -> None:
        self.f = f
        self.farm = farm

    def __call__(self) -> None:
        if uwsgi.mule_id() == 0:
            return
        if not uwsgi.in_farm(self.farm):
            return
        while True:
            message = uwsgi.farm_get_msg()
            if message:
                self.f(message)


class farm:  # noqa: N801
    """``@farm(name)``: every mule of farm ``name`` loops on ``farm_get_msg()`` calling f(message)."""

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        self.name = name

    def __call__(self, f: Callable[[bytes], Any]) -> None:
        postfork_chain.append(farm_loop(f, self.name))  # type: ignore[arg-type]


class mule_brain:  # noqa: N801
    def __init__(self, f: Callable[[], Any], num: int) -> None:
        self.f = f
        self.num = num

    def __call__(self) -> None:
        if uwsgi.mule_id() == self.num:
            try:
                self.f()
            except BaseException as error:  # noqa: BLE001 - uWSGI prints it and exits the mule
                tracebacks.print_exception(error)
                sys.exit(1)


class mule_brainloop(mule_brain):  # noqa: N801
    def __call__(self) -> None:
        if uwsgi.mule_id() == self.num:
            while True:
                try:
                    self.f()
                except BaseException as error:  # noqa: BLE001
                    tracebacks.print_exception(error)
                    sys.exit(1)


class mule:  # noqa: N801
    """``@mule(N)``: mule N runs f() once after fork, then goes on (the name becomes ``None``)."""

    def __init__(self, num: int) -> None:
        self.num = num

    def __call__(self, f: Callable[[], Any]) -> None:
        postfork_chain.append(mule_brain(f, self.num))


class muleloop(mule):  # noqa: N801
    """``@muleloop(N)``: mule N calls f() forever (the name becomes ``None``)."""

    def __call__(self, f: Callable[[], Any]) -> None:
        postfork_chain.append(mule_brainloop(f, self.num))


class mulemsg_loop:  # noqa: N801
    def __init__(self, f: Callable[[bytes], Any], num: int) -> None:
        self.f = f
        self.num = num

    def __call__(self) -> None:
        if uwsgi.mule_id() == self.num:
            while True:
                message = uwsgi.mule_get_msg()
                if message:
                    self.f(message)


class mulemsg:  # noqa: N801
    """``@mulemsg(N)``: mule N loops on ``mule_get_msg()`` (no signals) calling f(message)."""

    def __init__(self, num: int) -> None:
        self.num = num

    def __call__(self, f: Callable[[bytes], Any]) -> None:
        postfork_chain.append(mulemsg_loop(f, self.num))


class signal:  # noqa: N801
    """``@signal(num, target='')``: register f as the handler of signal ``num``."""

    def __init__(self, num: int, **kwargs: Any) -> None:
        self.num = num
        self.target = kwargs.get("target", "")

    def __call__(self, f: Callable[[int], Any]) -> Callable[[int], Any]:
        uwsgi.register_signal(self.num, self.target, f)
        return f


class _scheduled:  # noqa: N801
    """What ``@timer``, ``@rbtimer``, ``@cron`` and ``@filemon`` share: a signal number (the
    first free one unless ``signum=`` is given; computed even then, as uWSGI does), a target,
    and a schedule added once the handler is registered."""

    def __init__(self, **kwargs: Any) -> None:
        self.num = kwargs.get("signum", get_free_signal())
        self.target = kwargs.get("target", "")

    def _schedule(self) -> None:
        raise NotImplementedError

    def __call__(self, f: Callable[[int], Any]) -> Callable[[int], Any]:
        uwsgi.register_signal(self.num, self.target, f)
        self._schedule()
        return f


class timer(_scheduled):  # noqa: N801
    """``@timer(secs, target='', signum=free)``: run f every ``secs`` seconds."""

    def __init__(self, secs: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.secs = secs

    def _schedule(self) -> None:
        uwsgi.add_timer(self.num, self.secs)


class cron(_scheduled):  # noqa: N801
    """``@cron(minute, hour, day, month, weekday, target='', signum=free)``."""

    def __init__(self, minute: int, hour: int, day: int, month: int, dayweek: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.minute, self.hour, self.day, self.month, self.dayweek = minute, hour, day, month, dayweek

    def _schedule(self) -> None:
        uwsgi.add_cron(self.num, self.minute, self.hour, self.day, self.month, self.dayweek)


class rbtimer(_scheduled):  # noqa: N801
    """``@rbtimer(secs, target='', signum=free)``: an rb timer without an iteration limit."""

    def __init__(self, secs: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.secs = secs

    def _schedule(self) -> None:
        uwsgi.add_rb_timer(self.num, self.secs)


class filemon(_scheduled):  # noqa: N801
    """``@filemon(path, target='', signum=free)``: run f once per batch of changes to ``path``."""

    def __init__(self, fsobj: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fsobj = fsobj

    def _schedule(self) -> None:
        uwsgi.add_file_monitor(self.num, self.fsobj)


class erlang:  # noqa: N801
    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, f: Callable[..., Any]) -> Callable[..., Any]:
        uwsgi.erlang_register_process(self.name, f)
        return f


class lock:  # noqa: N801
    """Run f holding lock 0; inside a spooler, return ``None`` without running it."""

    def __init__(self, f: Callable[..., Any]) -> None:
        self.f = f

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if uwsgi.i_am_the_spooler():
            return None
        uwsgi.lock()
        try:
            return self.f(*args, **kwargs)
        finally:
            uwsgi.unlock()


class thread:  # noqa: N801
    """Calling f starts it in a daemon thread (positional arguments only) and returns f."""

    def __init__(self, f: Callable[..., Any]) -> None:
        self.f = f

    def __call__(self, *args: Any) -> Callable[..., Any]:
        t = threading.Thread(target=self.f, args=args)
        t.daemon = True
        t.start()
        return self.f


class harakiri:  # noqa: N801
    """Run f under ``set_user_harakiri(seconds)`` (not reset if f raises)."""

    def __init__(self, seconds: int) -> None:
        self.s = seconds

    def real_call(self, *args: Any, **kwargs: Any) -> Any:
        uwsgi.set_user_harakiri(self.s)
        result = self.f(*args, **kwargs)
        uwsgi.set_user_harakiri(0)
        return result

    def __call__(self, f: Callable[..., Any]) -> Callable[..., Any]:
        self.f = f
        return self.real_call
