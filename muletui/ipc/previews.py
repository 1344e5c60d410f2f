"""A message's first bytes as a person reads them, for the message history and ``--events``.

Most messages show as their bytes, escaped. A uwsgidecorators ``@mulefunc`` call is a pickle of
``{"service": "uwsgi_mulefunc", "func": name, "args": args, "kwargs": kwargs}`` and shows as the
call it stands for: ``thumbnail('photo-4.jpg', 128)``.

The pickle is never loaded: loading a pickle runs whatever it names, and these bytes come from
any process of the stack, or from a person typing escapes. Its opcodes are read with
:func:`pickletools.genops`, which only parses, and only plain values are rebuilt (str, bytes,
numbers, ``None``, booleans, tuples, lists, dicts, sets). At the first opcode that would build
anything else, or where the reported bytes end, the call is shown as far as it got, then ``…``.
"""

from __future__ import annotations

import reprlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

#: Bytes of a message a report carries: enough to show most messages' beginning.
PREVIEW_BYTES: Final = 64
#: Bytes of a pickle a report carries: enough for a ``@mulefunc`` call's name and plain arguments.
PICKLE_PREVIEW_BYTES: Final = 256
MULEFUNC_SERVICE: Final = "uwsgi_mulefunc"
_LONGEST = 96  # characters of a shown call

_values = reprlib.Repr()
_values.maxstring = 40
_values.maxother = 40
_values.maxlevel = 3


@dataclass(frozen=True)
class Preview:
    """``text`` to show; ``mulefunc``: the function a ``@mulefunc`` call names, else ``""``."""

    text: str
    mulefunc: str = ""


def preview_bytes(data: bytes) -> bytes:
    """What a report carries of ``data``: the first :data:`PREVIEW_BYTES`, or of a pickle
    (protocol 2 and later start with ``\\x80``) the first :data:`PICKLE_PREVIEW_BYTES`."""
    return data[:PICKLE_PREVIEW_BYTES] if data[:1] == b"\x80" else data[:PREVIEW_BYTES]


@lru_cache(maxsize=512)  # a repeated call costs one look-up, not a parse
def describe(data: bytes) -> Preview:
    """How to show a message whose first bytes are ``data`` (as :func:`preview_bytes` cut them)."""
    if data[:1] == b"\x80" and MULEFUNC_SERVICE.encode() in data:
        call = _mulefunc_call(data)
        if call is not None:
            return call
    return Preview(repr(data[:PREVIEW_BYTES])[2:-1])


class _Mark:
    """Where a pickle's MARK opcode put its marker on the stack."""


_MARK = _Mark()


def _pop_mark(stack: list[Any]) -> list[Any]:
    """The items above the topmost mark, which is removed with them."""
    at = len(stack) - 1 - stack[::-1].index(_MARK)
    items = stack[at + 1 :]
    del stack[at:]
    return items


def _step(name: str, arg: Any, stack: list[Any], memo: dict[int, Any]) -> bool:
    """Apply one opcode of the plain-values subset; ``False`` for an opcode outside it."""
    if name in ("PROTO", "FRAME"):
        pass
    elif name == "MEMOIZE":
        memo[len(memo)] = stack[-1]
    elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
        memo[arg] = stack[-1]
    elif name in ("GET", "BINGET", "LONG_BINGET"):
        stack.append(memo[arg])
    elif name == "MARK":
        stack.append(_MARK)
    elif name in _CONSTANTS:
        stack.append(_CONSTANTS[name]())
    elif name in _ARGUMENT_OPCODES:
        stack.append(arg)
    elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
        count = int(name[-1])
        stack[-count:] = [tuple(stack[-count:])]
    elif name in ("TUPLE", "LIST", "FROZENSET"):
        kind = {"TUPLE": tuple, "LIST": list, "FROZENSET": frozenset}[name]
        stack.append(kind(_pop_mark(stack)))
    elif name == "DICT":
        items = _pop_mark(stack)
        stack.append(dict(zip(items[::2], items[1::2], strict=True)))
    elif name == "APPEND":
        value = stack.pop()
        stack[-1].append(value)
    elif name == "APPENDS":
        items = _pop_mark(stack)
        stack[-1].extend(items)
    elif name == "SETITEM":
        value, key = stack.pop(), stack.pop()
        stack[-1][key] = value
    elif name == "SETITEMS":
        items = _pop_mark(stack)
        stack[-1].update(zip(items[::2], items[1::2], strict=True))
    elif name == "ADDITEMS":
        items = _pop_mark(stack)
        stack[-1].update(items)
    else:
        return False
    return True


_CONSTANTS: dict[str, Callable[[], Any]] = {
    "EMPTY_DICT": dict, "EMPTY_LIST": list, "EMPTY_TUPLE": tuple, "EMPTY_SET": set,
    "NONE": lambda: None, "NEWTRUE": lambda: True, "NEWFALSE": lambda: False,
}
#: Opcodes whose argument, as genops decodes it, is the value itself.
_ARGUMENT_OPCODES = frozenset({
    "INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT",
    "STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8",
    "BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8",
})


def _mulefunc_call(data: bytes) -> Preview | None:
    """The call a ``@mulefunc`` pickle stands for; ``None`` if ``data`` is another pickle."""
    stack, whole = _read(data)
    if whole:
        fields = stack[-1] if len(stack) == 1 and isinstance(stack[-1], dict) else {}
    else:
        fields = _fields_so_far(stack)
    name = fields.get("func")
    if fields.get("service") != MULEFUNC_SERVICE or not isinstance(name, str):
        return None
    args, kwargs = fields.get("args", ()), fields.get("kwargs", {})
    parts = [_values.repr(value) for value in args] if isinstance(args, tuple | list) else []
    if isinstance(kwargs, dict):
        parts += [f"{key}={_values.repr(value)}" for key, value in kwargs.items()]
    if not whole or not isinstance(args, tuple) or not isinstance(kwargs, dict):
        parts.append("…")
    text = f"{name}({', '.join(parts)})"
    if len(text) > _LONGEST:
        text = text[: _LONGEST - 2] + "…)"
    return Preview(text, name)


def _read(data: bytes) -> tuple[list[Any], bool]:
    """The stack after the plain-values part of the pickle ``data``; ``True`` if it was whole."""
    import pickletools  # noqa: PLC0415 - with the first pickle only: the master keeps what it imports

    stack: list[Any] = []
    memo: dict[int, Any] = {}
    try:
        for opcode, arg, _pos in pickletools.genops(data):
            if opcode.name == "STOP":
                return stack, True
            if not _step(opcode.name, arg, stack, memo):
                if opcode.name == "STACK_GLOBAL":
                    del stack[-2:]  # the module and attribute names it was about to look up
                break
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):  # cut short, or malformed
        pass  # keep what was read
    return stack, False


_KEYS = frozenset({"service", "func", "args", "kwargs"})


def _fields_so_far(stack: list[Any]) -> dict[str, Any]:
    """The keys and values of a @mulefunc dict cut short: the stack holds the empty dict, a
    mark, then keys and values. A value is whole when the next key follows it; of arguments
    still being built, ``args`` gets the ones already whole, as a list."""
    if len(stack) < 2 or not isinstance(stack[0], dict) or stack[1] is not _MARK:
        return {}
    items = stack[2:]
    fields: dict[str, Any] = {}
    at = 0
    while at + 1 < len(items) and isinstance(items[at], str) and items[at] in _KEYS:
        key, rest = items[at], items[at + 1 :]
        followed = len(rest) > 1 and isinstance(rest[1], str) and rest[1] in _KEYS
        if followed or key in ("service", "func"):
            fields[key] = rest[0]
            at += 2
            continue
        if key == "args":
            fields[key] = _whole_items(rest)
        break
    return fields


def _whole_items(items: list[Any]) -> tuple[Any, ...] | list[Any]:
    """Arguments cut short: a lone tuple is taken as all of them; else the items before the
    first mark, less the container that mark is filling."""
    if len(items) == 1 and isinstance(items[0], tuple):
        return items[0]
    if _MARK not in items:
        return items
    before = items[: items.index(_MARK)]
    return before[:-1] if before and isinstance(before[-1], list | dict | set) else before
