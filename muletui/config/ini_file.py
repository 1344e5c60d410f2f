"""Read one section of a uWSGI ini config file (core/ini.c), every repeated key kept."""

from __future__ import annotations

from muletui.config.entry import ConfigEntry, ConfigError, quoted, shown
from muletui.config.magic import MagicTable, read_config_text

_BLANKS = " \t\r"


def read_ini(
    path: str, section: str | None = None, magic: MagicTable | None = None, *, again: bool = False
) -> list[ConfigEntry]:
    """Return the options of ``[section]`` (default ``[uwsgi]``) in ``path``, in file order,
    origins ``path:LINE``, ``%`` variables substituted with ``magic`` (``again``: as uWSGI's
    ``:section`` form, see :meth:`MagicTable.for_file`).

    As uWSGI: ``#`` and ``;`` start a comment only at the start of a line (``a = b # c`` gives
    'b # c'); key and value are split at the first '=' and stripped; a section may be opened again
    later in the file and adds to the first. ``key =`` gives ''; a line without '=' is a bare
    option with value ``None`` (uWSGI stores '' for both).

    Raises:
        ConfigError: the file is unreadable; a section header lacks its closing ']', an option
            comes before any section header or has no name (origin ``path:LINE``; uWSGI silently
            ignores these three); no ``[section]`` header (origin ``path``; uWSGI only warns).
    """
    text = read_config_text(path, section, magic, again=again)
    section = section or "uwsgi"
    entries: list[ConfigEntry] = []
    current: str | None = None
    found = False
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip(_BLANKS)
        if not line or line[0] in "#;":
            continue
        origin = f"{path}:{number}"
        if line[0] == "[":
            if not line.endswith("]"):
                raise ConfigError(origin, f"section header {quoted(line)} has no closing ']'")
            current = line[1:-1]
            found = found or current == section
            continue
        if current is None:
            raise ConfigError(origin, f"option {quoted(line)} comes before any [section] header")
        key, equals, value = line.partition("=")
        key = key.rstrip(_BLANKS)
        if not key:
            raise ConfigError(origin, f"option {quoted(line)} has no name")
        if current == section:
            entries.append(ConfigEntry(key, value.strip(_BLANKS) if equals else None, origin))
    if not found:
        raise ConfigError(path, f"can't find section [{shown(section)}]")
    return entries
