"""Every option of one command line, in uWSGI's order: config files read in place, the config
logic applied as options come (``for``, ``if-*``, placeholders), then the value passes.

This is uWSGI's ``add_exported_option`` loop (core/config.c): an option inside an open block goes
to the block, which exports it zero, one or several times; an exported option that uWSGI applies
at once (``UWSGI_OPT_IMMEDIATE``) acts here: a block starts, a placeholder is set, a config file
is read (its options inside a block skip the logic, as uWSGI's ``logic_opt_running`` makes them),
``iprint`` prints, ``exit`` stops. Once everything is read, :func:`~muletui.config.passes.apply_passes`.
"""

from __future__ import annotations

from muletui.config.entry import ConfigEntry, ConfigError, shown
from muletui.config.files import config_kind, read_config_file, split_spec
from muletui.config.limits import MAX_OPTIONS
from muletui.config.logic import BLOCKS, END_KEYS, ConfigLogic
from muletui.config.magic import MagicTable
from muletui.config.option_table import is_uwsgi_option, lookup
from muletui.config.passes import apply_passes
from muletui.record import replace

#: The options that read a config file in place, and the reader each asks for (None: by extension).
FILE_OPTIONS = {"ini": "ini", "xml": "xml", "yaml": "yaml", "json": "json", "include": None}
_MAX_INCLUDE_DEPTH = 10


class Expansion:
    """The options of one command line, collected by :meth:`add` and :meth:`load`.

    Each file (spec, kind) is read once however often it is included, and the command line with
    everything it includes and repeats holds at most :data:`MAX_OPTIONS` options: files that
    include each other many times over, or a ``for-times`` of a billion, are answered in a
    second, not expanded without end.
    """

    def __init__(self) -> None:
        self.entries: list[ConfigEntry] = []
        self._printed: list[str] = []  # iprint's lines so far, for an exit
        self._files: dict[tuple[str, str | None], list[ConfigEntry]] = {}
        self._logic = ConfigLogic(self._first_value)
        self._running = False  # uWSGI's logic_opt_running: a block is exporting its options
        self._depth = 0
        self._magic: MagicTable | None = None  # filled with the first file read
        self._last_ini: str | None = None  # for ``ini = :section``

    def add(self, entry: ConfigEntry) -> None:
        """One option as read, in order: through the open block, if any, then exported."""
        if not self._running:
            if entry.key in END_KEYS:
                self._logic.end()
            if self._logic.open:
                self._running = True
                try:
                    for made in self._logic.run(entry):
                        self._export(made)
                finally:
                    self._running = False
                return
        self._export(entry)

    def load(self, spec: str, kind: str | None, origin: str) -> None:
        """Read config file ``spec`` (``FILE[:SECTION]``) and add its options where it stands.

        Raises:
            ConfigError: the file cannot be read, or files include each other too deep.
        """
        if self._depth > _MAX_INCLUDE_DEPTH:
            raise ConfigError(origin, f"config files include each other more than {_MAX_INCLUDE_DEPTH} deep")
        self._depth += 1
        try:
            for entry in self._read(spec, kind, origin):
                option = lookup(entry.key)
                self.add(replace(entry, key=option.name, spelling=entry.key) if option and option.name != entry.key else entry)
        finally:
            self._depth -= 1

    @property
    def printed(self) -> tuple[str, ...]:
        """What ``iprint`` printed so far: an error that stops the config shows it first."""
        return tuple(self._printed)

    def finish(self) -> list[ConfigEntry]:
        """Every option, after uWSGI's ``$()``, ``@()`` and ``%()`` passes, then the options of
        each ``inherit`` file: uWSGI reads a template while it applies the options, so its
        options come after all others and miss the passes."""
        self.entries = apply_passes(self.entries)
        index = 0
        while index < len(self.entries):  # a template may inherit another: it joins the end too
            entry = self.entries[index]
            if entry.key == "inherit":
                if not entry.value:
                    raise ConfigError(entry.origin, "--inherit needs a file name")
                self.load(entry.value, None, entry.origin)
            index += 1
        return self.entries

    # -- inside ------------------------------------------------------------------------------

    def _read(self, spec: str, kind: str | None, origin: str) -> list[ConfigEntry]:
        self._magic = self._magic or MagicTable()
        again = kind == "ini" and spec.startswith(":") and "/" not in spec
        key = (f"{self._last_ini}\0{spec}" if again else spec, kind)
        read = self._files.get(key)
        if read is not None:
            return read
        if again:
            if self._last_ini is None:
                reason = f"--ini {shown(spec)}: this form reads a section of the last ini file, and none was read before"
                raise ConfigError(origin, reason)
            from muletui.config.ini_file import read_ini  # noqa: PLC0415 - readers load with their first file

            read = read_ini(self._last_ini, spec[1:] or None, self._magic, again=True)
        else:
            read = read_config_file(spec, kind, self._magic)
            path, _section = split_spec(spec)
            if (kind or config_kind(path)) == "ini":
                self._last_ini = path
        self._files[key] = read
        return read

    def _export(self, entry: ConfigEntry) -> None:
        """uWSGI's ``add:`` label: keep the option, and apply it now if it is immediate."""
        if len(self.entries) >= MAX_OPTIONS:
            raise ConfigError(entry.origin, f"more than {MAX_OPTIONS} options, config files and blocks included")
        option = lookup(entry.key)
        if option is None or not option.immediate:
            self.entries.append(entry)
            return
        entry = replace(entry, immediate=True)
        self.entries.append(entry)
        key = entry.key
        if key in BLOCKS:
            self._logic.start(entry)
        elif key in ("set-placeholder", "set"):
            self._set(entry, placeholder_only=key == "set-placeholder")
        elif key in FILE_OPTIONS:
            if not entry.value:
                raise ConfigError(entry.origin, f"--{key} needs a file name")
            self.load(entry.value, FILE_OPTIONS[key], entry.origin)
        elif key == "iprint":
            self._printed.append(entry.value or "")
        elif key == "exit":
            status = 1 if entry.value is None else _atoi(entry.value)
            reason = f"exit: uWSGI stops reading its config here and exits with status {status}"
            raise ConfigError(entry.origin, reason, status=status, printed=self.printed)

    def _set(self, entry: ConfigEntry, *, placeholder_only: bool) -> None:
        """``set-placeholder``/``set-ph``: a name for ``%(name)`` only; ``set``: an option, or a
        placeholder when the name is no option (in ``uwsgi.opt`` either way)."""
        name, equals, value = (entry.value or "").partition("=")
        if not equals:
            raise ConfigError(entry.origin, "invalid placeholder/--set value (uWSGI wants NAME=VALUE)")
        option = lookup(name)
        if placeholder_only:
            if is_uwsgi_option(name):
                raise ConfigError(entry.origin, f"you cannot use {shown(name)} as a placeholder, it is already available as an option")
            self._export(ConfigEntry(name, value, entry.origin, immediate=True, placeholder=True))
        elif option is None:
            self._export(ConfigEntry(name, value, entry.origin, placeholder=True))
        else:
            self._export(ConfigEntry(option.name, value, entry.origin, spelling="" if name == option.name else name))

    def _first_value(self, key: str) -> str | None:
        """``uwsgi_get_exported_opt`` at read time: the first exported value of ``key``."""
        option = lookup(key)
        name = option.name if option else key
        return next(((entry.value or "") for entry in self.entries if entry.key == name), None)


def _atoi(text: str) -> int:
    text = text.strip()
    sign = -1 if text[:1] == "-" else 1
    text = text[1:] if text[:1] in "+-" else text
    digits = len(text) - len(text.lstrip("0123456789"))
    return (sign * int(text[:digits][:10] or "0")) & 0xFF
