"""Read one section of a uWSGI yaml config file the way uWSGI's own line reader does (core/yaml.c).

pyuwsgi is built without libyaml, so uWSGI reads yaml line by line: no real YAML parser, repeated
keys all kept, no quoting, no lists. This module follows that reader, not PyYAML.
"""

from __future__ import annotations

from muletui.config.entry import ConfigEntry, ConfigError, quoted, shown
from muletui.config.magic import MagicTable, read_config_text

_INDENT = " \t\r"
_STOPS_UWSGI = "uWSGI's yaml reader stops reading the section here"


def read_yaml(path: str, section: str | None = None, magic: MagicTable | None = None) -> list[ConfigEntry]:
    """Return the options of the top-level ``section:`` block (default ``uwsgi:``) in ``path``,
    origins ``path:LINE``, ``%`` variables substituted with ``magic``.

    As uWSGI: '#' starts a comment anywhere on a line, even inside quotes; the block is the first
    unindented ``section:`` line and ends at the next unindented line; inside it every indented
    ``key: value`` line (``": "`` or ``":\\t"``) is one option whatever its depth. The value is
    stripped of blanks and otherwise literal: quotes stay, ``true`` stays 'true', ``key: `` with
    nothing after the blank gives ''.

    Raises:
        ConfigError: the file is unreadable; inside the block a list item, a flow collection, a
            line without ``": "`` (e.g. ``key:`` with no value) or with no key, origin
            ``path:LINE`` (uWSGI silently ignores that line and the rest of the block); no
            unindented ``section:`` line (origin ``path``; uWSGI reads nothing, silently).
    """
    text = read_config_text(path, section, magic)
    section = section or "uwsgi"
    entries: list[ConfigEntry] = []
    inside = False
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.partition("#")[0]
        if not line:
            continue
        indented = line[0] in _INDENT
        if inside and not indented:
            break
        content = line.lstrip(_INDENT)
        if not content:
            continue
        if inside:
            entries.append(_option(content, f"{path}:{number}"))
        elif not indented:
            name, colon, _ = content.partition(":")
            inside = bool(colon) and name == section
    if not inside:
        raise ConfigError(path, f"can't find section '{shown(section)}:'")
    return entries


def _option(content: str, origin: str) -> ConfigEntry:
    """Parse one ``key: value`` line of the block (``content`` is not indented and not empty)."""
    if content[0] in "-[{":
        raise ConfigError(origin, f"lists and flow collections are not supported; {_STOPS_UWSGI}")
    separator = content.find(": ")
    if separator < 0:
        separator = content.find(":\t")
    if separator < 0:
        raise ConfigError(origin, f"expected 'key: value', got {quoted(content.rstrip())}; {_STOPS_UWSGI}")
    key = content[:separator].rstrip(" \t")
    if not key:
        raise ConfigError(origin, f"option {quoted(content.rstrip())} has no name; {_STOPS_UWSGI}")
    return ConfigEntry(key, content[separator + 2 :].strip(_INDENT), origin)
