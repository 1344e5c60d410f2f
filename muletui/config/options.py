"""uWSGI's option names and syntax: the command line (and config files) as a list of entries.

uWSGI's rules kept here: ``--opt value`` and ``--opt=value`` both work, except for options
whose argument is optional (``--mule``, ``--mule-msg-size``), where only ``=`` attaches a value;
a bare positional argument is a config file chosen by its extension; ``--ini``/``--xml``/
``--yaml``/``--json`` expand their file's options in place. Where uWSGI would read
``--mule x.py`` as a config file and die, we stop with a message that explains the ``=`` form.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from muletui.config.entry import ConfigEntry, ConfigError, shown
from muletui.config.files import read_config_file
from muletui.config.limits import MAX_OPTIONS


class Arity(Enum):
    FLAG = "flag"  # no argument
    VALUE = "value"  # required argument: --opt V or --opt=V
    OPTIONAL = "optional"  # optional argument, attached with '=' only


@dataclass(frozen=True)
class Option:
    """One option muletui knows; ``emulated`` False means accepted with a warning."""

    name: str
    arity: Arity
    group: str
    help: str
    metavar: str = ""
    aliases: tuple[str, ...] = ()
    emulated: bool = True
    own: bool = False  # muletui's own option, not a uWSGI one (kept out of uwsgi.opt)


GROUPS = ("mules", "signals", "app", "config", "muletui", "uWSGI options not emulated")

OPTIONS: tuple[Option, ...] = (
    Option("mule", Arity.OPTIONAL, "mules", "add a mule: signal mode, or run FILE.py / module:callable", "[=PROGRAM]"),
    Option("mules", Arity.VALUE, "mules", "add N signal-mode mules", "N"),
    Option("farm", Arity.VALUE, "mules", "create a farm of mules", "NAME:ID[,ID...]"),
    Option("mule-msg-size", Arity.OPTIONAL, "mules", "send/receive buffer of every message queue", "[=BYTES]"),
    Option("mule-reload-mercy", Arity.VALUE, "mules", "seconds a mule gets to exit on reload (default 60)", "S"),
    Option("master", Arity.FLAG, "mules", "enable the master (always on)", aliases=("M",)),
    Option("mule-harakiri", Arity.VALUE, "mules", "kill a mule whose signal handler runs longer than S", "S"),
    Option("touch-mules-reload", Arity.VALUE, "mules", "reload the mules when FILE's mtime changes", "FILE"),
    Option("locks", Arity.VALUE, "signals", "create the user locks 0..N", "N"),
    Option("timer", Arity.VALUE, "signals", "raise SIGNAL every SECONDS", '"SIGNAL SECONDS"',
           aliases=("signal-timer",)),
    Option("rbtimer", Arity.VALUE, "signals", "raise SIGNAL every SECONDS (rb timer)", '"SIGNAL SECONDS"',
           aliases=("signal-rbtimer",)),
    Option("fs-signal", Arity.VALUE, "signals", "raise SIGNAL when PATH changes", '"PATH SIGNAL"'),
    Option("signal-bufsize", Arity.VALUE, "signals", "buffer size of the signal sockets", "BYTES",
           aliases=("signals-bufsize",)),
    Option("wsgi-file", Arity.VALUE, "app", "import this file once, before the mules start", "FILE"),
    Option("file", Arity.VALUE, "app", "same as --wsgi-file", "FILE"),
    Option("python-file", Arity.VALUE, "app", "same as --wsgi-file", "FILE"),
    Option("module", Arity.VALUE, "app", "import this module (module[:app]) once", "MODULE", aliases=("w", "wsgi")),
    Option("import", Arity.VALUE, "app", "import a module (or .py file) before the app", "MODULE",
           aliases=("pyimport", "py-import", "python-import", "shared-import", "shared-pyimport")),
    Option("pythonpath", Arity.VALUE, "app", "add a directory to sys.path of stack processes", "DIR",
           aliases=("python-path", "pp")),
    Option("chdir", Arity.VALUE, "app", "run the stack in this directory", "DIR"),
    Option("processes", Arity.VALUE, "uWSGI options not emulated", "workers (uwsgi.numproc; no workers run)", "N",
           aliases=("p", "workers"), emulated=False),
    Option("ini", Arity.VALUE, "config", "load options from an ini file", "FILE[:SECTION]"),
    Option("xml", Arity.VALUE, "config", "load options from an xml file", "FILE[:ID]"),
    Option("yaml", Arity.VALUE, "config", "load options from a yaml file", "FILE[:SECTION]", aliases=("yml",)),
    Option("json", Arity.VALUE, "config", "load options from a json file", "FILE[:SECTION]", aliases=("js",)),
    Option("headless", Arity.FLAG, "muletui", "no console: plain prefixed log on stdout", own=True),
    Option("duration", Arity.VALUE, "muletui", "stop the stack after S seconds", "S", own=True),
    Option("log-file", Arity.VALUE, "muletui", "append every captured line to PATH", "PATH", own=True),
    Option("events", Arity.VALUE, "muletui", "write every event as a JSON line to PATH", "PATH", own=True),
    Option("serve", Arity.OPTIONAL, "muletui", "serve the console to browsers (default 127.0.0.1:8000)",
           "[=HOST:PORT]", own=True),
    Option("serve-sessions", Arity.VALUE, "muletui", "with --serve: most browser sessions at once (default 40)",
           "N", own=True),
    Option("version", Arity.FLAG, "muletui", "print the version and exit", own=True),
    Option("help", Arity.FLAG, "muletui", "show this help and exit", aliases=("h",), own=True),
)

_BY_NAME: dict[str, Option] = {}
for _option in OPTIONS:
    for _name in (_option.name, *_option.aliases):
        _BY_NAME[_name] = _option

_CONFIG_KINDS = {"ini": "ini", "xml": "xml", "yaml": "yaml", "json": "json"}

#: uWSGI flags often found on real command lines: known to take no argument, so the token
#: after them is never swallowed as their value.
_FOREIGN_FLAGS = frozenset(
    {
        "enable-threads", "vacuum", "die-on-term", "lazy-apps", "lazy", "single-interpreter",
        "thunder-lock", "auto-procname", "need-app", "strict", "no-orphans", "harakiri-verbose",
        "memory-report", "disable-logging", "log-date", "py-tracebacker", "honour-stdin",
        "no-default-app", "catch-exceptions",
    }
)
_MAX_INCLUDE_DEPTH = 10


def lookup(name: str) -> Option | None:
    return _BY_NAME.get(name)


def suggest(name: str) -> str:
    """`` (did you mean --mule?)`` for a near miss of a known option, else ``''``."""
    import difflib  # noqa: PLC0415 - only for a misspelt option: the master need not carry it

    close = difflib.get_close_matches(name, list(_BY_NAME), n=1, cutoff=0.8)
    return f" (did you mean --{close[0]}?)" if close else ""


def parse_argv(argv: list[str]) -> list[ConfigEntry]:
    """The command line as entries in declaration order, config files expanded in place.

    Keys are canonical option names for known options and the name as written otherwise.
    Raises :class:`ConfigError` for malformed input.
    """
    entries: list[ConfigEntry] = []
    expansion = _Expansion()
    i = 0
    while i < len(argv):
        token = argv[i]
        i += 1
        if token.startswith("--") and len(token) > 2:
            name, eq, attached = token[2:].partition("=")
            value: str | None = attached if eq else None
        elif token.startswith("-") and len(token) > 1 and token != "-":
            name, value = token[1:2], (token[2:] or None)
            if value is not None and value.startswith("="):
                value = value[1:]
        else:
            entries += expansion.file_entries(token, None, "command line", 0)
            continue
        option = lookup(name)
        if option is not None and option.arity is Arity.OPTIONAL and value is None:
            _refuse_space_form(option.name, argv[i] if i < len(argv) else None)
        elif value is None and _takes_value(option, name) and i < len(argv) and _looks_like_value(argv[i]):
            value = argv[i]
            i += 1
        elif option is not None and option.arity is Arity.VALUE and value is None:
            raise ConfigError("command line", f"--{shown(name)} needs a value")
        entries += expansion.expand(ConfigEntry(option.name if option else name, value, "command line"), 0)
    return entries


def _takes_value(option: Option | None, name: str) -> bool:
    if option is not None:
        return option.arity is Arity.VALUE
    return name not in _FOREIGN_FLAGS


def _looks_like_value(token: str) -> bool:
    return not token.startswith("-") or token == "-" or token[1:2].isdigit()


def _refuse_space_form(name: str, following: str | None) -> None:
    """uWSGI reads ``--mule x.py`` as "--mule, then config file x.py" and dies; explain instead."""
    if following is None or following.startswith("-"):
        return
    text = shown(following)
    if name == "mule" and (following.endswith(".py") or ":" in following):
        raise ConfigError(
            "command line",
            f"--mule {text}: uWSGI takes --mule's program only with '=', and would read "
            f"{text} as a config file (\"unable to load configuration from {text}\"). "
            f"Write --mule={text}",
        )
    if name == "mule-msg-size" and following.isdigit():
        raise ConfigError(
            "command line",
            f"--mule-msg-size {text}: uWSGI takes this value only with '=', and would read "
            f"{text} as a config file. Write --mule-msg-size={text}",
        )


class _Expansion:
    """The config files of one command line, expanded in place.

    Each file (spec and kind) is read once however often it is included, and the command line
    with everything it includes holds at most :data:`MAX_OPTIONS` options: files that include
    each other many times over are answered in a second, not expanded exponentially.
    """

    def __init__(self) -> None:
        self._files: dict[tuple[str, str | None], list[ConfigEntry]] = {}
        self._count = 0

    def file_entries(self, spec: str, kind: str | None, origin: str, depth: int) -> list[ConfigEntry]:
        if depth > _MAX_INCLUDE_DEPTH:
            raise ConfigError(origin, f"config files include each other more than {_MAX_INCLUDE_DEPTH} deep")
        read = self._files.get((spec, kind))
        if read is None:
            read = self._files[(spec, kind)] = read_config_file(spec, kind)
        expanded: list[ConfigEntry] = []
        for entry in read:
            option = lookup(entry.key)
            canonical = ConfigEntry(option.name if option else entry.key, entry.value, entry.origin)
            expanded += self.expand(canonical, depth + 1)
        return expanded

    def expand(self, entry: ConfigEntry, depth: int) -> list[ConfigEntry]:
        """An ``ini``/``xml``/``yaml``/``json`` entry is followed by the entries of its file (it
        stays itself too: uWSGI lists it in ``uwsgi.opt``); other entries stay as they are."""
        self._count += 1
        if self._count > MAX_OPTIONS:
            raise ConfigError(entry.origin, f"more than {MAX_OPTIONS} options, config files included")
        kind = _CONFIG_KINDS.get(entry.key)
        if kind is None:
            return [entry]
        if not entry.value:
            raise ConfigError(entry.origin, f"--{entry.key} needs a file name")
        return [entry, *self.file_entries(entry.value, kind, entry.origin, depth)]
