"""Read the ``<uwsgi>`` stanzas of a uWSGI xml config file the way uWSGI's expat reader does.

pyuwsgi is built with expat (core/xmlconf.c, ``UWSGI_XML_EXPAT``), whose reader is a small state
machine over start, text and end events; this module runs the same machine on Python's expat.
"""

from __future__ import annotations

from xml.parsers import expat

from muletui.config.entry import ConfigEntry, ConfigError, shown
from muletui.config.magic import MagicTable, read_config_text

_JUNK_AFTER_ROOT = expat.errors.codes[expat.errors.XML_ERROR_JUNK_AFTER_DOC_ELEMENT]


def read_xml(path: str, section: str | None = None, magic: MagicTable | None = None) -> list[ConfigEntry]:
    """Return the options of the ``<uwsgi>`` stanzas in ``path``, in document order, ``%``
    variables substituted with ``magic``.

    As uWSGI: a ``<uwsgi>`` element at any depth opens a stanza, and every stanza of the document
    is read; with ``section`` only ``<uwsgi id="section">`` ones are. Inside a stanza each element
    is an option named by its tag; its value is the text that follows the start tag exactly as
    written (not stripped, entities decoded), or ``None`` when the element holds no text
    (``<master/>``; uWSGI stores '1'). Attributes are ignored; with nested elements only the
    innermost gets the text. Anything after the root element is ignored, as in uWSGI. Origins are
    ``path:LINE`` of the start tag.

    Raises:
        ConfigError: the file is unreadable; malformed XML (origin ``path:LINE``, expat's reason);
            no matching ``<uwsgi>`` element (origin ``path``; uWSGI reads nothing, silently).
    """
    text = read_config_text(path, section, magic)
    parser = expat.ParserCreate()
    parser.buffer_text = True
    reader = _StanzaReader(path, section, parser)
    parser.StartElementHandler = reader.start
    parser.CharacterDataHandler = reader.text
    parser.EndElementHandler = reader.end
    try:
        parser.Parse(text, True)
    except expat.ExpatError as err:
        if err.code != _JUNK_AFTER_ROOT:
            reason = f"unable to parse xml file: {expat.ErrorString(err.code)}"
            raise ConfigError(f"{path}:{err.lineno}", reason) from err
    if not reader.found:
        wanted = "<uwsgi>" if section is None else f'<uwsgi id="{shown(section)}">'
        raise ConfigError(path, f"can't find a {wanted} element")
    return reader.entries


class _StanzaReader:
    """expat handlers reproducing uWSGI's ``startElement``/``textElement``/``endElement``."""

    def __init__(self, path: str, section: str | None, parser: expat.XMLParserType) -> None:
        self.entries: list[ConfigEntry] = []
        self.found = False
        self._path = path
        self._section = section
        self._parser = parser
        self._in_stanza = False
        self._pending: tuple[str, str] | None = None  # (option, origin) waiting for its text

    def start(self, name: str, attributes: dict[str, str]) -> None:
        if self._in_stanza:
            self._pending = (name, f"{self._path}:{self._parser.CurrentLineNumber}")
        elif name == "uwsgi" and self._section in (None, attributes.get("id")):
            self._in_stanza = self.found = True

    def text(self, data: str) -> None:
        self._flush(data)

    def end(self, name: str) -> None:
        if self._in_stanza and name == "uwsgi":
            self._in_stanza = False
        else:
            self._flush(None)

    def _flush(self, value: str | None) -> None:
        """Record the element waiting for its value, if any, with ``value``."""
        if self._pending is not None:
            key, origin = self._pending
            self.entries.append(ConfigEntry(key, value, origin))
            self._pending = None
