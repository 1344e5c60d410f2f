"""uWSGI's three passes over option values once every config source is read: ``$(NAME)``
environment variables, ``@(FILE)`` file contents, then ``%(key)`` references (core/uwsgi.c
``uwsgi_setup``, core/utils.c ``uwsgi_apply_config_pass``, core/config.c
``uwsgi_manage_placeholder``).

Each pass walks the options in order and rewrites values in place, so a reference to an earlier
option sees its resolved value and one to a later option its raw text. After each substitution
uWSGI scans the value again from its *second* character: text brought in is expanded again
unless it starts the value (``a = %(b)`` with ``b = %(c)`` leaves ``a`` at ``%(c)``, while
``a = x%(b)`` gives ``x`` + c's value). An inner ``%(`` restarts the key, so ``%(r%(n))`` reads
``n`` first. Options applied while the config was read (``immediate``) keep their text.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from muletui.config.entry import ConfigEntry, ConfigError, shown
from muletui.config.limits import MAX_CONFIG_CHARS, MAX_LINE_CHARS
from muletui.config.option_table import lookup
from muletui.record import replace

#: Substitutions in one value before muletui gives up: ``a = %(a)`` with ``b = x%(a)`` makes
#: uWSGI 2.0.30 substitute forever (its rescan finds the same reference again).
MAX_SUBSTITUTIONS = 10_000

_INT64 = 1 << 64


def apply_passes(entries: list[ConfigEntry]) -> list[ConfigEntry]:
    """``entries`` with the ``$``, ``@`` and ``%`` passes applied, in uWSGI's order.

    Raises:
        ConfigError: an ``@(FILE)`` that cannot be read (uWSGI exits there), a value growing past
            :data:`MAX_LINE_CHARS`, or references that never stop expanding, at that entry.
    """
    values = [entry.value for entry in entries]
    if not any(value and "(" in value for value in values):
        return entries
    first: dict[str, int] = {}
    for index, entry in enumerate(entries):
        first.setdefault(entry.key, index)
    _apply(entries, values, "$", os.environ.get)
    _apply(entries, values, "@", _read_at)
    _apply(entries, values, "%", lambda key: _placeholder(key, first, values))
    return [entry if entry.value == value else replace(entry, value=value) for entry, value in zip(entries, values, strict=True)]


def _apply(entries: list[ConfigEntry], values: list[str | None], symbol: str, hook: Callable[[str], str | None]) -> None:
    """One pass: ``uwsgi_apply_config_pass`` as written, state machine and rescan included."""
    for index, entry in enumerate(entries):
        value = values[index]
        if value is None or entry.immediate or symbol not in value:
            continue
        has_symbol = depth = key_at = substitutions = 0
        j = 0
        while j < len(value):
            if not has_symbol:  # nothing pending: only the next symbol can change the state
                j = value.find(symbol, j)
                if j < 0:
                    break
            char = value[j]
            if char == symbol:
                has_symbol = 1
            elif char == "(" and has_symbol == 1:
                has_symbol, depth, key_at = 2, 0, j + 1
            elif has_symbol > 1:
                if char == "(":
                    has_symbol += 1
                    depth += 1
                elif char == ")" and depth > 0:
                    has_symbol += 1
                    depth -= 1
                elif char == ")" and has_symbol <= 2:
                    has_symbol = 0
                elif char == ")":
                    found = _call_hook(hook, value[key_at : key_at + has_symbol - 2], entry, symbol)
                    if found is not None:
                        value = value[: key_at - 2] + found + value[key_at + has_symbol - 1 :]
                        values[index] = value  # in place: later lookups see the new value
                        substitutions += 1
                        _check_growth(entry, value, substitutions, symbol)
                        j = 0  # uWSGI resets to 0, and its loop's increment skips the first character
                    has_symbol = 0
                else:
                    has_symbol += 1
            else:
                has_symbol = 0
            j += 1


def _call_hook(hook: Callable[[str], str | None], key: str, entry: ConfigEntry, symbol: str) -> str | None:
    try:
        return hook(key)
    except ConfigError as error:
        raise ConfigError(entry.origin, f"{symbol}({shown(key)}): {error.reason}") from None


def _check_growth(entry: ConfigEntry, value: str, substitutions: int, symbol: str) -> None:
    if len(value) > MAX_LINE_CHARS:
        reason = f"value longer than {MAX_LINE_CHARS} characters once its {symbol}(...) references are resolved"
        raise ConfigError(entry.origin, reason)
    if substitutions > MAX_SUBSTITUTIONS:
        reason = (
            f"{symbol}(...) references that never stop expanding (uWSGI 2.0.30 substitutes "
            "forever here: its rescan finds the reference it brought in)"
        )
        raise ConfigError(entry.origin, reason)


def _first_value(key: str, first: dict[str, int], values: list[str | None]) -> str | None:
    """``uwsgi_get_exported_opt``: the current value of the first option named ``key`` (or an
    alias of it: muletui keeps options under their main name); a bare option counts as '' (an
    ini file gives '' for it). ``first``: each key's first index in ``values``."""
    option = lookup(key)
    index = first.get(option.name if option else key)
    return None if index is None else values[index] or ""


def _placeholder(key: str, first: dict[str, int], values: list[str | None]) -> str | None:
    """``uwsgi_manage_placeholder``: an option's value, or with spaces a pipeline of words:
    options and numbers concatenate, ``+ - * /`` apply to the next word as 64-bit integers,
    ``++``/``--`` step the result; an unknown option in a pipeline counts as ''."""
    if " " not in key:
        return _first_value(key, first, values)
    current: str | None = None
    operator = ""
    for word in key.split():
        if word in ("+", "-", "*", "/"):
            operator = word
            continue
        if word in ("++", "--"):
            if current is not None:
                current = str(_wrap(_strtoll(current) + (1 if word == "++" else -1)))
            operator = ""
            continue
        value = word if _is_a_number(word) else (_first_value(word, first, values) or "")
        if not operator:
            current = (current or "") + value
        else:
            left, right = _strtoll(current or ""), _strtoll(value)
            if operator == "+":
                result = left + right
            elif operator == "-":
                result = left - right
            elif operator == "*":
                result = left * right
            else:  # C division truncates toward zero; uWSGI answers 0 for a division by zero
                result = 0 if right == 0 else abs(left) // abs(right) * (1 if (left < 0) == (right < 0) else -1)
            current = str(_wrap(result))
        operator = ""
    return current


def _is_a_number(word: str) -> bool:
    """uWSGI's ``is_a_number``: every character a digit."""
    return word.isascii() and word.isdigit()


def _strtoll(text: str) -> int:
    """C ``strtoll(text, NULL, 10)``: leading blanks, a sign, digits; 0 when there are none."""
    text = text.lstrip(" \t\n\r\f\v")
    sign = -1 if text[:1] == "-" else 1
    if text[:1] in "+-":
        text = text[1:]
    digits = len(text) - len(text.lstrip("0123456789"))
    if not digits:
        return 0
    return max(-(1 << 63), min((1 << 63) - 1, sign * int(text[:digits][:20])))


def _wrap(number: int) -> int:
    """``number`` as a signed 64-bit integer (what uWSGI's arithmetic overflows to)."""
    return (number + (1 << 63)) % _INT64 - (1 << 63)


def _read_at(name: str) -> str:
    """``uwsgi_at_file_read``: a file's text less one trailing newline; ``exec://CMD`` gives the
    command's output. uWSGI exits when the file cannot be opened.

    Raises:
        ConfigError: the file cannot be read, or a scheme muletui does not read.
    """
    scheme, sep, rest = name.partition("://")
    if sep and scheme == "exec":
        import subprocess  # noqa: PLC0415 - only for @(exec://...)

        text = subprocess.run(["/bin/sh", "-c", rest], capture_output=True, check=False).stdout
        content = text.decode(errors="replace")
    elif sep and scheme.isalpha():
        raise ConfigError("", f"muletui reads files and exec:// here, not {scheme}://")
    else:
        try:
            with open(name, encoding="utf-8", errors="replace") as stream:
                content = stream.read(MAX_CONFIG_CHARS)
        except OSError as err:
            raise ConfigError("", f'open("{shown(name)}"): {err.strerror} (uWSGI exits here)') from None
    return content[:-1] if content[-1:] in ("\n", "\r") else content
