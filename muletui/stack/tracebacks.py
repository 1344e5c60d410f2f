"""Tracebacks of user code as uWSGI prints them: the user's frames, without muletui's.

uWSGI calls mule scripts, signal handlers, hooks and the app from C, and its ``uwsgi`` calls are
C functions: a traceback starts at the user's first frame and an error raised by a call ends at
the user's line. muletui runs the same code from Python, so its tracebacks would also show
muletui's frames and the importlib frames of the imports muletui makes. This module removes
them: every frame of the ``muletui`` package but the lessons (``muletui/demo/`` in an installed
wheel) and the shim's ``uwsgidecorators``, a Python module under uWSGI too, whose frames (a
``@mulefunc`` call's dispatcher, a ``@mule`` function's caller) show there as well.

``MULETUI_DEBUG=1`` in muletui's environment keeps every frame, for debugging muletui itself.
"""

from __future__ import annotations

import importlib
import os
import sys
from types import TracebackType

#: Every frame stays in tracebacks (``MULETUI_DEBUG`` set to anything but ``""`` or ``"0"``).
DEBUG = os.environ.get("MULETUI_DEBUG", "") not in ("", "0")

_MULETUI_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_LESSONS_DIR = os.path.join(_MULETUI_DIR, "demo") + os.sep
_DECORATORS = os.path.join(_MULETUI_DIR, "stack", "shim", "uwsgidecorators.py")
_IMPORT_MACHINERY = ("<frozen importlib.", os.path.dirname(importlib.__file__) + os.sep)


def _is_muletui(filename: str) -> bool:
    return filename.startswith(_MULETUI_DIR) and not filename.startswith(_LESSONS_DIR) and filename != _DECORATORS


def user_frames(tb: TracebackType | None) -> TracebackType | None:
    """``tb`` without muletui's frames and the importlib frames muletui's own calls lead to
    (importlib frames the user's code leads to stay, as they do under uWSGI). The entries kept
    are copies: ``tb`` itself is left as it is. With :data:`DEBUG`, ``tb`` unchanged."""
    if DEBUG:
        return tb
    kept: list[TracebackType] = []
    in_muletui = False
    entry = tb
    while entry is not None:
        filename = entry.tb_frame.f_code.co_filename
        if _is_muletui(filename):
            in_muletui = True
        elif not (in_muletui and filename.startswith(_IMPORT_MACHINERY)):
            in_muletui = False
            kept.append(entry)
        entry = entry.tb_next
    stripped = None
    for entry in reversed(kept):
        stripped = TracebackType(stripped, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return stripped


def strip(error: BaseException) -> None:
    """Take muletui's frames out of ``error``'s traceback and out of those of the exceptions it
    leads to (cause, context, the members of a group), in place."""
    pending = [error]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        current.__traceback__ = user_frames(current.__traceback__)
        pending += [chained for chained in (current.__cause__, current.__context__) if chained is not None]
        if isinstance(current, BaseExceptionGroup):
            pending += current.exceptions


def print_exception(error: BaseException) -> None:
    """Print ``error``, raised by user code muletui called, as uWSGI's ``PyErr_Print`` does:
    stripped (see :func:`strip`), through ``sys.excepthook``, so a hook the user set runs and
    the default one adds Python's "Did you mean" hints. A hook that raises is reported as
    Python reports it, and the caller goes on."""
    strip(error)
    try:
        sys.excepthook(type(error), error, error.__traceback__)
    except BaseException as hook_error:  # noqa: BLE001 - Python's own answer to a broken hook
        hook_error.__suppress_context__ = True  # the original error follows on its own
        strip(hook_error)
        print("Error in sys.excepthook:", file=sys.stderr)
        sys.__excepthook__(type(hook_error), hook_error, hook_error.__traceback__)
        print("\nOriginal exception was:", file=sys.stderr)
        sys.__excepthook__(type(error), error, error.__traceback__)
