"""uWSGI's config-file magic: ``%`` variables in a file's text and ``%(key)`` references in values.

uWSGI substitutes the ``%`` variables in the raw text of a config file before any parser sees it
(core/io.c ``uwsgi_open_and_read``, core/utils.c ``magic_sub``), so they work in keys, values and
section names alike. ``%(key)`` references are resolved later, on option values only (core/utils.c
``uwsgi_apply_config_pass``). Every config reader goes through :func:`read_config_text` and
:func:`expand_references`, so the four formats expand identically.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import replace

from muletui.config.entry import ConfigEntry, ConfigError
from muletui.config.limits import MAX_CONFIG_CHARS, MAX_LINE_CHARS

_VARIABLE = re.compile(r"%(.)", re.DOTALL)
_REFERENCE = re.compile(r"%\(([^()]*)\)")

# uWSGI fills the upper-case twins from the first config file it loads; muletui reads one file at
# a time, so they equal the lower-case ones (right whenever the file is the top-level one).
_FIRST_ROUND = "odspcenx"


def read_config_text(path: str, section: str) -> str:
    """Return the text of config file ``path`` with its ``%`` variables substituted.

    Reads at most :data:`MAX_CONFIG_CHARS` characters (``/dev/zero`` is refused after 4 MiB, not
    read to the end), and no line, before or after substitution, may exceed :data:`MAX_LINE_CHARS`.

    Raises:
        ConfigError: the file cannot be read, is not UTF-8 or is too large (origin ``path``); a
            line is too long (origin ``path:LINE``).
    """
    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read(MAX_CONFIG_CHARS + 1)
    except OSError as err:
        raise ConfigError(path, f"unable to load configuration from {path}: {err.strerror}") from err
    except UnicodeDecodeError as err:
        reason = f"unable to load configuration from {path}: not UTF-8 text (byte {err.start})"
        raise ConfigError(path, reason) from err
    if len(text) > MAX_CONFIG_CHARS:
        limit = f"larger than {MAX_CONFIG_CHARS >> 20} MiB, muletui's limit for a config file"
        raise ConfigError(path, f"unable to load configuration from {path}: {limit}")
    _check_line_lengths(path, text, "")
    table = magic_table(path, section)
    growth = sum(len(table.get(match.group(1), "")) - 2 for match in _VARIABLE.finditer(text))
    if len(text) + growth > MAX_CONFIG_CHARS:
        limit = f"larger than {MAX_CONFIG_CHARS >> 20} MiB once its % variables are substituted"
        raise ConfigError(path, f"unable to load configuration from {path}: {limit}")
    text = _VARIABLE.sub(lambda match: table.get(match.group(1), ""), text)
    _check_line_lengths(path, text, " once its % variables are substituted")
    return text


def _check_line_lengths(path: str, text: str, when: str) -> None:
    """Refuse ``text`` if a line of it is longer than :data:`MAX_LINE_CHARS` (origin ``path:LINE``)."""
    if len(text) <= MAX_LINE_CHARS:
        return
    for number, line in enumerate(text.split("\n"), start=1):
        if len(line) > MAX_LINE_CHARS:
            raise ConfigError(f"{path}:{number}", f"line longer than {MAX_LINE_CHARS} characters{when}")


def magic_table(path: str, section: str) -> dict[str, str]:
    """The ``%`` variables uWSGI defines for config file ``path`` read for ``section``.

    ``%o`` path as given, ``%p`` absolute path, ``%s`` file name, ``%d`` its directory with a
    trailing '/', ``%c`` that directory's name, ``%e`` extension, ``%n`` name without extension,
    ``%x`` section, ``%0``..``%9`` components of ``%d``, ``%%`` a '%'. ``%(`` is kept for
    :func:`expand_references`. Any other ``%`` + character becomes '' when substituted, as in uWSGI
    (which also knows ``%b``, ``%i``, ``%j`` and process variables; muletui leaves those empty).
    """
    # uWSGI resolves symlinks in the path, except when the config file itself is one
    full = os.path.join(os.getcwd(), path) if os.path.islink(path) else os.path.realpath(path)
    directory, _, name = full.rpartition("/")
    directory += "/"
    stem, dot, extension = name.rpartition(".")
    table = {
        "%": "%",
        "(": "%(",
        "o": path,
        "p": full,
        "s": name,
        "d": directory,
        "c": os.path.basename(directory[:-1]),
        "e": extension if dot else "",
        "n": stem if dot else name,
        "x": section,
    }
    components = [part for part in directory.split("/") if part]
    table.update({str(index): part for index, part in enumerate(components[:10])})
    table.update({letter.upper(): table[letter] for letter in _FIRST_ROUND})
    return table


def expand_references(entries: Sequence[ConfigEntry]) -> list[ConfigEntry]:
    """Replace each ``%(key)`` in the values by the first value of option ``key`` in ``entries``.

    As uWSGI's last config pass: options are resolved in order, so a reference to an earlier option
    sees its resolved value and one to a later option its raw text; text brought in by a
    substitution is not scanned again; an unknown key stays as written; a bare option counts as ''.
    uWSGI looks the key up among every option source (command line included) and also evaluates
    arithmetic such as ``%(workers + 1)``; here only ``entries`` are consulted and arithmetic is left
    as written.

    Raises:
        ConfigError: a value would grow past :data:`MAX_LINE_CHARS` (references that double a
            value line after line would otherwise take gigabytes), at that entry's origin.
    """
    first: dict[str, str | None] = {}
    for entry in entries:
        first.setdefault(entry.key, entry.value)

    def lookup(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in first:
            return match.group(0)
        return first[key] or ""

    def resolved_length(value: str) -> int:
        references = list(_REFERENCE.finditer(value))
        removed = sum(len(match.group(0)) for match in references)
        return len(value) - removed + sum(len(lookup(match)) for match in references)

    resolved: list[ConfigEntry] = []
    seen: set[str] = set()
    for entry in entries:
        if entry.value is not None and "%(" in entry.value:
            if resolved_length(entry.value) > MAX_LINE_CHARS:
                reason = f"value longer than {MAX_LINE_CHARS} characters once its %(...) references are resolved"
                raise ConfigError(entry.origin, reason)
            entry = replace(entry, value=_REFERENCE.sub(lookup, entry.value))
        if entry.key not in seen:
            seen.add(entry.key)
            first[entry.key] = entry.value
        resolved.append(entry)
    return resolved
