"""The options muletui knows: every uWSGI 2.0.30 option, how each takes its value, and what
muletui does with it.

:data:`OPTIONS` lists the options muletui emulates (and muletui's own, ``own=True``), grouped for
``--help``; every other option of pyuwsgi 2.0.30's table (:mod:`muletui.config.uwsgi_options`)
is known too, as not emulated. An option marked ``emulated=False`` is accepted with one warning
that gives its ``reason`` (:mod:`muletui.config.builder`); a name that is no option is refused on
the command line, as uWSGI's ``getopt_long`` refuses it (:mod:`muletui.config.options`).
``immediate`` options are applied by uWSGI while it reads the config (``UWSGI_OPT_IMMEDIATE``),
so the ``$()``/``@()``/``%()`` passes leave their values alone.
"""

from __future__ import annotations

from enum import Enum

from muletui.config.uwsgi_options import OPTION_LIST
from muletui.record import record

#: Why an option of the workers' family is not emulated.
WORKERS_REASON = "muletui's workers serve one request at a time, on one thread, one per connection"


class Arity(Enum):
    FLAG = "flag"  # no argument
    VALUE = "value"  # required argument: --opt V or --opt=V
    OPTIONAL = "optional"  # optional argument, attached with '=' only


@record
class Option:
    """One option muletui knows; ``emulated`` False means accepted with a warning giving ``reason``."""

    name: str
    arity: Arity
    group: str
    help: str
    metavar: str = ""
    aliases: tuple[str, ...] = ()
    emulated: bool = True
    own: bool = False  # muletui's own option, not a uWSGI one (kept out of uwsgi.opt)
    immediate: bool = False  # applied while the config is read (UWSGI_OPT_IMMEDIATE)
    reason: str = WORKERS_REASON  # why it is not emulated
    note: str = ""  # a warning muletui gives whenever the option is used


GROUPS = ("mules", "workers", "signals", "app", "config", "config logic", "hooks", "muletui", "uWSGI options not emulated")

_V, _F, _O = Arity.VALUE, Arity.FLAG, Arity.OPTIONAL
_NO_VASSALS = "muletui runs no Emperor and no vassals"

OPTIONS: tuple[Option, ...] = (
    Option("mule", _O, "mules", "add a mule: signal mode, or run FILE.py / module:callable", "[=PROGRAM]"),
    Option("mules", _V, "mules", "add N signal-mode mules", "N"),
    Option("farm", _V, "mules", "create a farm of mules", "NAME:ID[,ID...]"),
    Option("mule-msg-size", _O, "mules", "send/receive buffer of every message queue", "[=BYTES]"),
    Option("mule-reload-mercy", _V, "mules", "seconds a mule gets to exit on reload (default 60) and on stop (default 3)", "S"),
    Option("master", _F, "mules", "enable the master (always on)", aliases=("M",)),
    Option("mule-harakiri", _V, "mules", "kill a mule whose signal handler runs longer than S", "S"),
    Option("touch-mules-reload", _V, "mules", "reload the mules when FILE's mtime changes", "FILE"),
    Option("touch-reload", _V, "mules", "reload the stack (the app imported again) when FILE's mtime changes", "FILE"),
    Option("exit-on-reload", _F, "mules", "stop (GAME OVER) instead of reloading on SIGHUP or SIGTERM"),
    Option("http-socket", _V, "workers", "serve HTTP/1.x on ADDR (host:port or a unix path) in the workers", "ADDR"),
    Option("socket", _V, "workers", "serve the uwsgi protocol on ADDR (requests, ping, remote signals)", "ADDR",
           aliases=("uwsgi-socket",)),
    Option("processes", _V, "workers", "workers to fork (uwsgi.numproc; 1 by default, none without a socket)", "N",
           aliases=("workers",)),
    Option("listen", _V, "workers", "backlog of every listening socket (default 100)", "N"),
    Option("disable-logging", _F, "workers", "no request log lines"),
    Option("socket-timeout", _V, "workers", "seconds a connection may wait for its client's bytes (default 4)", "S"),
    Option("no-defer-accept", _F, "workers", "let workers accept a TCP connection before its first bytes arrive"),
    Option("stats", _V, "workers", "serve uWSGI's stats JSON on ADDR (host:port, :port on loopback, a unix path, @name)",
           "ADDR", aliases=("stats-server",)),
    Option("stats-minified", _F, "workers", "write the stats JSON on one line", aliases=("stats-min",)),
    Option("locks", _V, "signals", "create the user locks 0..N", "N"),
    Option("timer", _V, "signals", "raise SIGNAL every SECONDS", '"SIGNAL SECONDS"', aliases=("signal-timer",)),
    Option("rbtimer", _V, "signals", "raise SIGNAL every SECONDS (rb timer)", '"SIGNAL SECONDS"',
           aliases=("signal-rbtimer",)),
    Option("fs-signal", _V, "signals", "raise SIGNAL when PATH changes", '"PATH SIGNAL"'),
    Option("cron", _V, "signals", "run a shell command when local time matches (-1 any, -N every N)",
           '"MIN HOUR DAY MONTH WEEKDAY CMD"'),
    Option("unique-cron", _V, "signals", "... but not while its previous run still runs", '"MIN HOUR DAY MONTH WEEKDAY CMD"'),
    Option("signal-bufsize", _V, "signals", "buffer size of the signal sockets", "BYTES", aliases=("signals-bufsize",)),
    Option("wsgi-file", _V, "app", "import this file once, before the mules start", "FILE"),
    Option("file", _V, "app", "same as --wsgi-file", "FILE"),
    Option("python-file", _V, "app", "same as --wsgi-file (not a uWSGI 2.0.30 option)", "FILE",
           note="not a uWSGI 2.0.30 option (uWSGI refuses it: unrecognized option '--python-file'); "
           "muletui reads it as --wsgi-file"),
    Option("module", _V, "app", "import this module (module[:app]) once", "MODULE", aliases=("w", "wsgi")),
    Option("import", _V, "app", "import a module (or .py file) before the app", "MODULE",
           aliases=("pyimport", "py-import", "python-import", "shared-import", "shared-pyimport", "shared-py-import",
                    "shared-python-import")),
    Option("callable", _V, "app", "the app's callable in --wsgi-file and --module (default application)", "NAME"),
    Option("need-app", _O, "app", "stop (status 22) if no app loads; else the mules run without it", "[=BOOL]"),
    Option("py-autoreload", _V, "app", "reload the stack when a module the app loaded is saved (N > 0)", "N",
           aliases=("py-auto-reload", "python-autoreload", "python-auto-reload")),
    Option("py-auto-reload-ignore", _V, "app", "leave the module named MODULE in sys.modules out of --py-autoreload",
           "MODULE"),
    Option("pythonpath", _V, "app", "add a directory to sys.path of stack processes", "DIR",
           aliases=("python-path", "pp")),
    Option("chdir", _V, "app", "run the stack in this directory", "DIR"),
    Option("ini", _V, "config", "load options from an ini file (:SECTION alone: the last ini file)", "FILE[:SECTION]",
           immediate=True),
    Option("xml", _V, "config", "load options from an xml file", "FILE[:ID]", aliases=("xmlconfig", "x"),
           immediate=True),
    Option("yaml", _V, "config", "load options from a yaml file", "FILE[:SECTION]", aliases=("yml", "y"),
           immediate=True),
    Option("json", _V, "config", "load options from a json file", "FILE[:SECTION]", aliases=("js", "j"),
           immediate=True),
    Option("include", _V, "config", "load options from a config file chosen by its extension", "FILE", immediate=True),
    Option("strict", _F, "config", "refuse config keys that are no uWSGI option"),
    Option("inherit", _V, "config", "... as a template: its options after all others, without %(...)", "FILE"),
    Option("set-placeholder", _V, "config logic", "set a placeholder for %(NAME)", "NAME=VALUE", aliases=("set-ph",),
           immediate=True),
    Option("set", _V, "config logic", "set an option, or a placeholder for %(NAME)", "NAME=VALUE", aliases=("S",),
           immediate=True),
    Option("for", _V, "config logic", "repeat the options up to endfor for each word, as %(_)", "WORDS",
           immediate=True),
    Option("for-glob", _V, "config logic", "... for each path matching PATTERN", "PATTERN", immediate=True),
    Option("for-times", _V, "config logic", "... for 1..N", "N", immediate=True),
    Option("for-readline", _V, "config logic", "... for each line of FILE", "FILE", immediate=True),
    Option("endfor", _O, "config logic", "end a for (or any) block", aliases=("end-for", "end"), immediate=True),
    Option("if-env", _V, "config logic", "the options up to endif if NAME is set (to VALUE)", "NAME[=VALUE]",
           aliases=("ifenv",), immediate=True),
    Option("if-not-env", _V, "config logic", "... if NAME is unset (or not VALUE)", "NAME[=VALUE]", immediate=True),
    Option("if-opt", _V, "config logic", "... if option NAME is set so far (to VALUE)", "NAME[=VALUE]",
           immediate=True),
    Option("if-not-opt", _V, "config logic", "... if option NAME is not set so far (or not VALUE)", "NAME[=VALUE]",
           immediate=True),
    Option("if-exists", _V, "config logic", "... if PATH can be read", "PATH", aliases=("ifexists",), immediate=True),
    Option("if-not-exists", _V, "config logic", "... if PATH cannot be read", "PATH", immediate=True),
    Option("if-file", _V, "config logic", "... if PATH is a file", "PATH", immediate=True),
    Option("if-not-file", _V, "config logic", "... if PATH is not a file", "PATH", immediate=True),
    Option("if-dir", _V, "config logic", "... if PATH is a directory", "PATH", aliases=("ifdir", "if-directory"),
           immediate=True),
    Option("if-not-dir", _V, "config logic", "... if PATH is not a directory", "PATH", immediate=True),
    Option("if-hostname", _V, "config logic", "... if the host is NAME", "NAME", immediate=True),
    Option("if-not-hostname", _V, "config logic", "... if the host is not NAME", "NAME", immediate=True),
    Option("if-hostname-match", _V, "config logic", "... (as uWSGI 2.0.30: only if REGEX does not compile)", "REGEX",
           immediate=True),
    Option("if-not-hostname-match", _V, "config logic", "... (as uWSGI 2.0.30: only if REGEX compiles)", "REGEX",
           immediate=True),
    Option("if-plugin", _V, "config logic", "... if pyuwsgi has plugin NAME built in", "NAME", aliases=("ifplugin",),
           immediate=True),
    Option("if-not-plugin", _V, "config logic", "... if pyuwsgi lacks plugin NAME", "NAME", immediate=True),
    Option("if-reload", _F, "config logic", "... never (a start is not a uWSGI reload)", immediate=True),
    Option("if-not-reload", _F, "config logic", "... always", immediate=True),
    Option("endif", _O, "config logic", "end an if (or any) block", aliases=("end-if",), immediate=True),
    Option("print", _V, "config logic", "print TEXT on stdout once the config is read", "TEXT"),
    Option("iprint", _V, "config logic", "print TEXT on stdout as the config is read", "TEXT", immediate=True),
    Option("exit", _O, "config logic", "stop reading the config and exit (status 1, or CODE)", "[=CODE]",
           immediate=True),
    Option("env", _V, "config logic", "set a variable for every stack process (NAME alone: unset it)", "NAME=VALUE"),
    Option("unenv", _V, "config logic", "unset a variable for every stack process", "NAME"),
    Option("exec-asap", _V, "hooks", "run a shell command before anything else starts", "CMD"),
    Option("exec-pre-jail", _V, "hooks", "... after exec-asap (muletui has no jail)", "CMD"),
    Option("exec-post-jail", _V, "hooks", "... after exec-pre-jail", "CMD"),
    Option("exec-in-jail", _V, "hooks", "... after exec-post-jail", "CMD"),
    Option("exec-as-root", _V, "hooks", "... after exec-in-jail (muletui drops no privileges)", "CMD"),
    Option("exec-as-user", _V, "hooks", "... after exec-as-root", "CMD"),
    Option("exec-pre-app", _V, "hooks", "... in --chdir, just before the app is imported", "CMD"),
    Option("exec-as-user-atexit", _V, "hooks", "run a shell command once the stack has stopped", "CMD"),
    Option("exec-post-app", _V, "uWSGI options not emulated", "command run between the app import and the fork",
           "CMD", emulated=False,
           reason="uWSGI runs it after the app import and before the fork, inside muletui's stack root, "
           "which runs no commands; use exec-pre-app"),
    Option("exec-as-vassal", _V, "uWSGI options not emulated", "command run before exec()ing a vassal", "CMD",
           aliases=("exec-as-emperor",), emulated=False, reason=_NO_VASSALS),
    Option("declare-option", _V, "uWSGI options not emulated", "declare a custom option", "NAME=TEMPLATE",
           aliases=("declare-option2",), emulated=False,
           reason="custom options are not emulated: each is accepted with a warning, its template not applied"),
    Option("headless", _F, "muletui", "no console: plain prefixed log on stdout", own=True),
    Option("duration", _V, "muletui", "stop the stack after S seconds", "S", own=True),
    Option("log-file", _V, "muletui", "append every captured line to PATH", "PATH", own=True),
    Option("events", _V, "muletui", "write every event as a JSON line to PATH", "PATH", own=True),
    Option("debug-on-crash", _F, "muletui", "a programmed mule's uncaught exception stops it in pdb (post-mortem)",
           own=True),
    Option("serve", _O, "muletui", "serve the console to browsers (default 127.0.0.1:8000)", "[=HOST:PORT]", own=True),
    Option("serve-sessions", _V, "muletui", "with --serve: most browser sessions at once (default 40)", "N", own=True),
    Option("version", _F, "muletui", "print the version and exit", own=True),
    Option("help", _F, "muletui", "show this help and exit", aliases=("h",), own=True),
)

#: Families of uWSGI options and why none of them is emulated: the reason of the first of its
#: name prefixes that a name starts with.
FAMILY_REASONS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("hook-",), "uWSGI's hook actions (ACTION:ARGS) are not emulated; for a shell command use exec-PHASE = CMD"),
    (("call-",), "it calls a C function of the uWSGI binary, which muletui does not have"),
    (("mount-asap", "mount-pre-jail", "mount-post-jail", "mount-in-jail", "mount-as-"),
     "it mounts a file system (root and namespaces); muletui leaves the system alone"),
    (("umount-",), "it unmounts a file system (root and namespaces); muletui leaves the system alone"),
    (("emperor", "early-emperor", "vassal", "imperial-"), _NO_VASSALS),
    (("spooler", "touch-spoolers-reload"), "muletui runs no spooler"),
    (("socket", "uwsgi-socket", "http-socket", "http11-socket", "fastcgi-", "scgi-", "raw-", "puwsgi-socket",
      "protocol", "processes", "workers", "worker-", "touch-workers-reload", "harakiri", "threads", "enable-threads",
      "listen", "max-requests", "cheap", "lazy", "thunder-lock", "buffer-size", "post-buffering", "route", "static-",
      "offload-thread", "reload-on-", "evil-reload-on-", "max-worker-lifetime", "min-worker-lifetime", "async",
      "gevent", "ugreen"), WORKERS_REASON),
)
#: Why any other uWSGI option is not emulated.
OTHER_REASON = "muletui emulates uWSGI's master, mules and config, not this option"

_KINDS = {"-": Arity.FLAG, "=": Arity.VALUE, "?": Arity.OPTIONAL}


def family_reason(name: str) -> str:
    """Why an option of a family in :data:`FAMILY_REASONS` is not emulated, else ``''``."""
    return next((reason for prefixes, reason in FAMILY_REASONS if name.startswith(prefixes)), "")


def _uwsgi_table() -> tuple[dict[str, Arity], dict[str, str]]:
    """Every option of pyuwsgi 2.0.30's table, in its order, with how it takes its value; and its
    short options: each letter names the first option that has it, as uWSGI's
    ``uwsgi_get_optname_by_index`` finds it."""
    arities: dict[str, Arity] = {}
    shorts: dict[str, str] = {}
    for line in OPTION_LIST.splitlines():
        name, kind, *letters = line.split()
        arities[name] = _KINDS[kind]
        for letter in letters:
            shorts.setdefault(letter, name)
    return arities, shorts


_UWSGI, _SHORT = _uwsgi_table()
#: muletui's own options and the uWSGI ones it emulates, by main name and long alias (``end``,
#: as uWSGI's config logic reads it); short letters only through :func:`short_option`.
_OWN: dict[str, Option] = {name: option for option in OPTIONS for name in (option.name, *option.aliases) if len(name) > 1}
#: The rest of uWSGI's options, as not emulated, made as they are first looked up: a command
#: line names a few of the table's ~900.
_NOT_EMULATED: dict[str, Option] = {}
#: The long options ``getopt_long`` takes on muletui's command line, in the order it lists an
#: ambiguous abbreviation's possibilities: uWSGI's table, then muletui's own options.
COMMAND_LINE_NAMES = (*_UWSGI, *(option.name for option in OPTIONS if option.name not in _UWSGI))


def lookup(name: str) -> Option | None:
    """The option called ``name`` (a main name or an alias), ``None`` for no option."""
    option = _OWN.get(name) or _NOT_EMULATED.get(name)
    if option is None and name in _UWSGI:
        reason = family_reason(name) or OTHER_REASON
        option = Option(name, _UWSGI[name], "uWSGI options not emulated", "", emulated=False, reason=reason)
        _NOT_EMULATED[name] = option
    return option


def is_uwsgi_option(name: str) -> bool:
    """``name`` is an option of uWSGI 2.0.30 (pyuwsgi's build), spelt as uWSGI spells it."""
    return name in _UWSGI


def custom_option(declaration: str) -> tuple[str, Arity] | None:
    """``declare-option = NAME=TEMPLATE``: the custom option's name and how it takes a value (a
    required one when the template uses ``$1``, ``$2`` or ``$3``, as uWSGI decides); ``None``
    without '=' (uWSGI: ``invalid ... syntax, must be newoption=template``)."""
    name, equals, template = declaration.partition("=")
    if not equals:
        return None
    takes_value = any(f"${n}" in template for n in (1, 2, 3))
    return name, Arity.VALUE if takes_value else Arity.FLAG


def short_option(letter: str) -> str | None:
    """The option that ``-LETTER`` stands for, ``None`` if none does."""
    return _SHORT.get(letter)


def suggest(name: str) -> str:
    """`` (did you mean --mule?)`` for a near miss of a known option, else ``''``."""
    import difflib  # noqa: PLC0415 - only for a misspelt option: the master need not carry it

    close = difflib.get_close_matches(name, [*_UWSGI, *_OWN], n=1, cutoff=0.8)
    return f" (did you mean --{close[0]}?)" if close else ""
