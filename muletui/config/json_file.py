"""Read one object of a uWSGI json config file the way uWSGI's jansson reader does (core/json.c)."""

from __future__ import annotations

import json
from collections.abc import Iterator

from muletui.config.entry import ConfigEntry, ConfigError, shown
from muletui.config.magic import MagicTable, read_config_text

_DECODER = json.JSONDecoder()


def read_json(path: str, section: str | None = None, magic: MagicTable | None = None) -> list[ConfigEntry]:
    """Return the options of the top-level object ``section`` (default ``uwsgi``) in ``path``,
    origins ``path:LINE``, ``%`` variables substituted with ``magic``.

    As uWSGI: a string is taken as written, ``true`` gives '1', ``false`` and ``null`` give '0',
    an integer its decimal text, and a list one option per item; floats, objects and lists inside
    lists are skipped silently. A key given twice keeps its first place and its last value, like
    any JSON object (and the last ``section`` object wins). LINE is the line of the key.

    Raises:
        ConfigError: the file is unreadable; invalid JSON (origin ``path:LINE``, the decoder's
            reason; nested too deep for Python's decoder: origin ``path``); ``section`` missing
            or not an object (origin ``path``, uWSGI's message).
    """
    text = read_config_text(path, section, magic)
    section = section or "uwsgi"
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        reason = f"error parsing JSON data: {err.msg} (column {err.colno})"
        raise ConfigError(f"{path}:{err.lineno}", reason) from err
    except RecursionError:  # jansson's words for its own depth limit (2048); Python's is lower
        raise ConfigError(path, "error parsing JSON data: maximum parsing depth reached") from None
    if not isinstance(document, dict) or not isinstance(document.get(section), dict):
        raise ConfigError(path, f"you must define a object named {shown(section)} in your JSON data")
    start = [at for key, _, _, at in _members(text, _skip_blanks(text, 0)) if key == section][-1]
    options: dict[str, tuple[object, str]] = {}
    line, counted_to = 1, 0  # keys come in text order: count each newline once
    for key, key_at, value, _ in _members(text, start):
        line += text.count("\n", counted_to, key_at)
        counted_to = key_at
        options[key] = (value, f"{path}:{line}")
    entries = [
        ConfigEntry(key, item, origin)
        for key, (value, origin) in options.items()
        for item in map(_scalar_text, value if isinstance(value, list) else [value])
        if item is not None
    ]
    return entries


def _members(text: str, start: int) -> Iterator[tuple[str, int, object, int]]:
    """Yield ``(key, key offset, value, value offset)`` for the object at ``text[start]``.

    ``text`` must already be known to be valid JSON: this walk only adds the offsets that
    ``json.loads`` does not report.
    """
    position = _skip_blanks(text, start + 1)
    while text[position] != "}":
        key_at = position
        key, position = _DECODER.raw_decode(text, key_at)
        value_at = _skip_blanks(text, _skip_blanks(text, position) + 1)  # past the ':'
        value, position = _DECODER.raw_decode(text, value_at)
        yield key, key_at, value, value_at
        position = _skip_blanks(text, position)
        if text[position] == ",":
            position = _skip_blanks(text, position + 1)


def _skip_blanks(text: str, position: int) -> int:
    """The offset of the first non-blank character of ``text`` at or after ``position``."""
    while text[position] in " \t\n\r":
        position += 1
    return position


def _scalar_text(value: object) -> str | None:
    """The option text uWSGI makes of a JSON value, or ``None`` for the kinds it skips."""
    if isinstance(value, str):
        return value
    if value is True:
        return "1"
    if value is False or value is None:
        return "0"
    if isinstance(value, int):
        return str(value)
    return None
