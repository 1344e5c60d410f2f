"""Read a uWSGI config file named as uWSGI names them: ``path`` or ``path:section``."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from muletui.config.entry import ConfigEntry, ConfigError, shown
from muletui.config.magic import MagicTable

#: Each reader is imported when a file of its kind is read (the master keeps what it imports).
_READERS = {
    "ini": ("muletui.config.ini_file", "read_ini"),
    "xml": ("muletui.config.xml_file", "read_xml"),
    "yaml": ("muletui.config.yaml_file", "read_yaml"),
    "json": ("muletui.config.json_file", "read_json"),
}
_KINDS_BY_EXTENSION = {".ini": "ini", ".xml": "xml", ".yaml": "yaml", ".yml": "yaml", ".json": "json"}


def read_config_file(spec: str, kind: str | None = None, magic: MagicTable | None = None) -> list[ConfigEntry]:
    """Return the options of config file ``spec`` (``path`` or ``path:section``), in file order.

    ``kind`` is 'ini', 'xml', 'yaml' or 'json' (``--ini``, ``--xml``...); ``None`` picks it from
    the path's extension. Without a section each reader uses its default: ``uwsgi`` for ini, yaml
    and json, every ``<uwsgi>`` stanza for xml. ``magic``: the command line's magic variables (a
    fresh table when ``None``).

    Raises:
        ConfigError: the extension is unknown, the file cannot be opened (both with origin
            ``spec``, cut to 80 characters), or the reader rejects the file.
        ValueError: ``kind`` is not one of the four.
    """
    path, section = split_spec(spec)
    if kind is None:
        kind = config_kind(path)
        if kind is None:
            reason = "unknown config file type (use .ini, .xml, .yaml, .yml or .json)"
            raise ConfigError(shown(spec), f"unable to load configuration from {shown(spec)}: {reason}")
    elif kind not in _READERS:
        raise ValueError(f"unknown config file kind {kind!r}")
    try:  # probed here so that the error names the spec as given; the readers only know the path
        with open(path, "rb"):
            pass
    except OSError as err:
        raise ConfigError(shown(spec), f"unable to load configuration from {shown(spec)}: {err.strerror}") from err
    module, name = _READERS[kind]
    reader: Callable[..., list[ConfigEntry]] = getattr(importlib.import_module(module), name)
    return reader(path, section, magic)


def config_kind(path: str) -> str | None:
    """The reader for ``path`` by its extension ('ini', 'xml', 'yaml', 'json'), or ``None``."""
    return next((kind for ext, kind in _KINDS_BY_EXTENSION.items() if path.endswith(ext)), None)


def split_spec(spec: str) -> tuple[str, str | None]:
    """Split ``path:section`` at its last ':' into the path and the section.

    The section is ``None`` when there is no ':' or nothing after it (``conf.ini:``, as uWSGI
    reads it); the whole spec is the path when nothing precedes the ':' or a '/' follows it (the
    ':' then belongs to a directory name, as in ``/srv/a:b/conf.ini``).
    """
    path, colon, section = spec.rpartition(":")
    if not colon or not path or "/" in section:
        return spec, None
    return path, section or None
