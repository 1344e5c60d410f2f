"""``uwsgi`` calls that fail as uWSGI's C functions do.

A C function adds no frame to a traceback: the error of a ``uwsgi`` call ends at the user's
line, also when the user catches it and prints it. Its arguments are parsed by
``PyArg_ParseTuple``, whose errors read ``register_signal() takes exactly 3 arguments (2 given)``
where Python says ``missing 1 required positional argument: 'handler'``. :func:`builtin` gives
a Python function both.

It costs a second Python call on every call (in a mule: 90 ns on a ``mule_msg`` and
``mule_get_msg`` pair of 3.2 µs with an exact signature, 420 ns with ``*args, **kwargs``), so the
shim applies it to the calls a program makes once or now and then, not to the message, signal
and lock calls of its loops. Their uncaught errors still lose muletui's frames when they are
printed (:mod:`muletui.stack.tracebacks`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from muletui.stack import tracebacks

Function = TypeVar("Function", bound=Callable[..., object])


@dataclass(frozen=True)
class Arguments:
    """What a C function's ``PyArg_ParseTuple`` format takes: ``minimum`` to ``maximum``
    positional arguments and no keywords; ``shown`` is the name its format gives, when it is not
    the function's (``signal_wait``'s gives none: ``() takes at most 1 argument (2 given)``)."""

    minimum: int
    maximum: int
    shown: str | None = None

    def error(self, name: str, given: int, keywords: bool) -> str:
        """The ``TypeError`` message for a call of ``name`` with ``given`` positional arguments,
        and keyword arguments if ``keywords``."""
        if keywords:
            return f"{name}() takes no keyword arguments"
        if self.minimum == self.maximum:
            how, count = "exactly", self.minimum
        elif given < self.minimum:
            how, count = "at least", self.minimum
        else:
            how, count = "at most", self.maximum
        shown = name if self.shown is None else self.shown
        return f"{shown}() takes {how} {count} argument{'' if count == 1 else 's'} ({given} given)"


def builtin(arguments: Arguments | None = None) -> Callable[[Function], Function]:
    """Make a Python function fail as a C function: whatever it raises ends at the caller's line
    (muletui's frames stay with :data:`tracebacks.DEBUG`), and a call it cannot bind reads as
    ``arguments`` says, if given.

    The function must be a Python function: a ``TypeError`` raised before any frame of it ran is
    how a call that could not be bound is told from one its body raised.
    """

    def wrap(function: Function) -> Function:
        name = function.__name__

        @functools.wraps(function)
        def call(*args: object, **kwargs: object) -> object:
            try:
                return function(*args, **kwargs)
            except BaseException as error:
                tb = error.__traceback__
                if arguments is not None and isinstance(error, TypeError) and tb is not None and tb.tb_next is None:
                    error.args = (arguments.error(name, len(args), bool(kwargs)),)
                tracebacks.strip(error)
                raise  # a bare raise adds no frame: the traceback goes on at the caller's line

        return call  # type: ignore[return-value]

    return wrap
