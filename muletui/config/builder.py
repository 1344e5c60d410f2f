"""From option entries to what runs: a :class:`StackConfig` for the engine and the run options.

Errors carry uWSGI's wording where uWSGI has one (``invalid mule id: 3``); options muletui does
not emulate are accepted with one warning each, with the reason, so a real uWSGI command line
still runs. A config file's key that is no uWSGI option is kept in ``uwsgi.opt``, as uWSGI keeps
it, with a warning (``strict`` refuses it, as uWSGI does). Placeholders (``set-placeholder``)
are names for ``%(name)``, not options: they pass silently.
"""

from __future__ import annotations

import os
import re

from muletui.config.entry import ConfigEntry, ConfigError, quoted, shown
from muletui.config.limits import check_counts, check_mule_count, check_number
from muletui.config.option_table import Option, custom_option, is_uwsgi_option, lookup, suggest
from muletui.config.stack_config import CronCommandSpec, StackConfig
from muletui.ipc.spec import FarmSpec, MuleSpec, SocketSpec
from muletui.record import field, record

_FALSE_WORDS = frozenset({"false", "off", "no", "0"})


@record(frozen=False)
class RunOptions:
    """muletui's own options: how to run the stack, not what it is."""

    headless: bool = False
    duration: float | None = None
    log_file: str | None = None
    events_file: str | None = None
    serve: str | None = None  # --serve: "" for the default address, else HOST:PORT
    serve_sessions: int = 40  # --serve-sessions: consoles served at once
    show_version: bool = False
    show_help: bool = False


@record(frozen=False)
class Plan:
    """Everything the command line asked for."""

    stack: StackConfig
    run: RunOptions
    warnings: list[str] = field(default_factory=list)
    misspelt: str = ""  # "--mulle is not an option (did you mean --mule?)": leads any error line
    #: What uWSGI prints on stdout while it reads the config: ``iprint`` lines as read, then
    #: ``print`` lines once everything is read (uWSGI applies ``print`` after the passes).
    config_output: list[str] = field(default_factory=list)


def _positive_number(entry: ConfigEntry, kind: type[int | float]) -> int | float:
    """The option's value as a number from 0 up to its bound (:func:`check_number`)."""
    try:
        number = kind(entry.value or "")
    except ValueError:
        raise ConfigError(entry.origin, f"--{entry.key} needs a number, got {quoted(entry.value or '')}") from None
    if number < 0:
        raise ConfigError(entry.origin, f"--{entry.key} must not be negative, got {quoted(entry.value or '')}")
    check_number(entry, number)
    return number


def _flag_value(entry: ConfigEntry) -> bool:
    return entry.value is None or entry.value.strip().lower() not in _FALSE_WORDS


def build(entries: list[ConfigEntry]) -> Plan:
    """Interpret ``entries`` in order.

    Raises:
        ConfigError: a value uWSGI rejects, or a count or size beyond muletui's limits
            (:mod:`muletui.config.limits`); led by :func:`misspellings`, the likely cause.
    """
    misspelt = misspellings(entries)
    try:
        plan = _build(entries)
    except ConfigError as error:
        raise ConfigError(error.origin, error.reason, first=misspelt, status=error.status, printed=error.printed) from None
    plan.misspelt = misspelt
    return plan


def misspellings(entries: list[ConfigEntry]) -> str:
    """``--mulle is not an option (did you mean --mule?)`` for each unknown option with a close
    known spelling, joined by ``; ``; ``''`` when there is none."""
    hints: dict[str, str] = {}
    for entry in entries:
        if entry.key not in hints and lookup(entry.key) is None and not entry.placeholder:
            hint = suggest(entry.key)
            hints[entry.key] = f"--{shown(entry.key)} is not an option{hint}" if hint else ""
    return "; ".join(hint for hint in hints.values() if hint)


def _build(entries: list[ConfigEntry]) -> Plan:
    check_counts(entries)
    customs = _custom_options(entries)
    _check_strict(entries, customs)
    stack = StackConfig()
    run = RunOptions()
    warnings: list[str] = []
    imports: list[tuple[str, str]] = []
    apps: list[tuple[str, str]] = []
    farm_entries: list[ConfigEntry] = []
    programs: list[str | None] = []
    printed: list[str] = []
    warned: set[str] = set()
    for entry in entries:
        option = lookup(entry.key)
        key = entry.key
        if entry.placeholder:
            stack.opt[key] = (entry.value or "").encode()
            continue
        if (option is None or not option.emulated or option.note) and key not in warned:
            warned.add(key)
            warnings.append(_warning(entry, option, customs))
        if option is None or not option.own:
            stack.opt[entry.uwsgi_name] = True if entry.value is None else entry.value.encode()
        if option is None:
            continue
        if key == "mule":
            programs.append(entry.value)
            check_mule_count(entry, len(programs))
        elif key == "mules":
            programs += [None] * int(_positive_number(entry, int))
            check_mule_count(entry, len(programs))
        elif key == "farm":
            farm_entries.append(entry)
        elif key == "processes":
            stack.numproc = int(_positive_number(entry, int))
        elif key in ("socket", "http-socket"):
            stack.sockets.append(SocketSpec("http" if key == "http-socket" else "uwsgi", entry.value or ""))
        elif key == "listen":
            stack.listen = int(_positive_number(entry, int))
        elif key == "socket-timeout":
            stack.socket_timeout = int(_positive_number(entry, int))
        elif key == "no-defer-accept":
            stack.defer_accept = not _flag_value(entry)
        elif key == "stats":
            stack.stats = entry.value or ""
        elif key == "stats-minified":
            stack.stats_minified = _flag_value(entry)
        elif key == "mule-msg-size":
            stack.mule_msg_size = 1 if entry.value is None else int(_positive_number(entry, int))
        elif key == "mule-reload-mercy":
            stack.reload_mercy = float(_positive_number(entry, float))
        elif key in ("wsgi-file", "file", "python-file"):
            apps.append(("file", entry.value or ""))
        elif key == "module":
            apps.append(("module", entry.value or ""))
        elif key == "import":
            imports.append(("import", entry.value or ""))
        elif key == "need-app":
            stack.need_app = _flag_value(entry)
        elif key == "pythonpath":
            stack.pythonpath.append(entry.value or "")
        elif key == "chdir":
            stack.chdir = entry.value
        elif key == "locks":
            stack.locks = int(_positive_number(entry, int))
        elif key == "mule-harakiri":
            stack.mule_harakiri = int(_positive_number(entry, int))
        elif key == "touch-mules-reload":
            stack.touch_mules_reload.append(entry.value or "")
        elif key == "touch-reload":
            stack.touch_reload.append(entry.value or "")
        elif key == "py-autoreload":
            stack.py_autoreload = int(_positive_number(entry, int))
        elif key == "py-auto-reload-ignore":
            stack.py_autoreload_ignore.append(entry.value or "")
        elif key == "exit-on-reload":
            stack.exit_on_reload = _flag_value(entry)
        elif key == "debug-on-crash":
            stack.debug_on_crash = _flag_value(entry)
        elif key in ("cron", "unique-cron"):
            stack.crons.append(_cron_command(entry))
        elif key == "signal-bufsize":
            stack.signal_bufsize = int(_positive_number(entry, int))
        elif key == "timer":
            stack.timers.append(_two_numbers(entry))
        elif key == "rbtimer":
            stack.rb_timers.append(_two_numbers(entry))
        elif key == "fs-signal":
            path, _, signum = (entry.value or "").rpartition(" ")
            if not path or not _is_integer(signum):
                raise ConfigError(entry.origin, f'--fs-signal needs "PATH SIGNAL", got {quoted(entry.value or "")}')
            stack.fs_signals.append((path.strip(), int(signum) & 0xFF))
        elif key == "headless":
            run.headless = _flag_value(entry)
        elif key == "duration":
            run.duration = float(_positive_number(entry, float))
        elif key == "log-file":
            run.log_file = entry.value
        elif key == "events":
            run.events_file = entry.value
        elif key == "serve":
            run.serve = entry.value or ""
        elif key == "serve-sessions":
            run.serve_sessions = int(_positive_number(entry, int))
            if run.serve_sessions < 1:
                raise ConfigError(entry.origin, f"--serve-sessions must be at least 1, got {entry.value!r}")
        elif key == "version":
            run.show_version = True
        elif key == "help":
            run.show_help = True
        elif key == "print":
            printed.append(entry.value or "")
        elif key in ("env", "unenv"):
            _environment(entry, stack, warnings)
        elif option.group == "hooks":
            stack.commands.append((key, entry.value or ""))
        elif key in _LOGIC_WARNINGS and key not in warned:
            warned.add(key)
            warnings.append(_LOGIC_WARNINGS[key].format(where=_where(entry)))
        elif key == "for-readline" and not os.access(entry.value or "", os.R_OK):
            warnings.append(f'--for-readline{_where(entry)}: open("{shown(entry.value or "")}") fails, so the block adds nothing (uWSGI logs the error and goes on)')
    stack.mules = [MuleSpec(i, program) for i, program in enumerate(programs, start=1)]
    stack.farms = [_farm(entry, index, len(stack.mules)) for index, entry in enumerate(farm_entries, start=1)]
    stack.mules = [
        MuleSpec(m.mule_id, m.program, tuple(f.name for f in stack.farms if m.mule_id in f.members))
        for m in stack.mules
    ]
    stack.app = imports + apps
    immediate = [entry.value or "" for entry in entries if entry.key == "iprint"]
    return Plan(stack, run, warnings, config_output=immediate + printed)


def _two_numbers(entry: ConfigEntry) -> tuple[int, int]:
    """``--timer "SIGNAL SECONDS"``: the signal (mod 256) and the period."""
    parts = (entry.value or "").split()
    if len(parts) != 2 or not all(_is_integer(p) for p in parts):
        raise ConfigError(entry.origin, f'--{entry.key} needs "SIGNAL SECONDS", got {quoted(entry.value or "")}')
    seconds = int(parts[1])
    check_number(entry, seconds)
    return int(parts[0]) & 0xFF, seconds


#: uWSGI's ``sscanf(value, "%d %d %d %d %d %n")``: five integers, then the command.
_CRON = re.compile(r"\s*([+-]?\d{1,1000})(?!\d)" * 5 + r"\s*(.*)", re.DOTALL)


def _cron_command(entry: ConfigEntry) -> CronCommandSpec:
    """``--cron "MIN HOUR DAY MONTH WEEKDAY COMMAND"``, read as uWSGI reads it (an empty command
    is taken); ``invalid cron syntax`` (uWSGI's line) otherwise."""
    match = _CRON.fullmatch(entry.value or "")
    if match is None:
        raise ConfigError(entry.origin, "invalid cron syntax")
    minute, hour, day, month, weekday = (int(number) for number in match.groups()[:5])
    return CronCommandSpec((minute, hour, day, month, weekday), match[6], unique=entry.key == "unique-cron")


def _is_integer(text: str) -> bool:
    """Digits with an optional '-', few enough for ``int()`` (which refuses over 4300 digits)."""
    digits = text.removeprefix("-")
    return digits.isdecimal() and len(digits) <= 1000


def _farm(entry: ConfigEntry, index: int, mule_count: int) -> FarmSpec:
    """``NAME:ID[,ID...]`` with uWSGI's two error messages."""
    value = entry.value or ""
    name, colon, ids = value.partition(":")
    if not colon or not name or not ids:
        raise ConfigError(entry.origin, f"invalid farm value ({shown(value)}) must be in the form name:mule[,muleN].")
    members: list[int] = []
    for text in ids.split(","):
        try:
            mule_id = int(text)
        except ValueError:
            raise ConfigError(entry.origin, f"invalid mule id: {shown(text)}") from None
        if not 1 <= mule_id <= mule_count:
            raise ConfigError(entry.origin, f"invalid mule id: {mule_id}")
        members.append(mule_id)
    return FarmSpec(index, name, tuple(members))


def _environment(entry: ConfigEntry, stack: StackConfig, warnings: list[str]) -> None:
    """``env = NAME=VALUE`` sets, ``env = NAME`` (glibc's ``putenv`` without '=') and
    ``unenv = NAME`` unset, in order, for every stack process (:meth:`StackConfig.environment`)."""
    name, equals, value = (entry.value or "").partition("=")
    if not name:
        what = "putenv()" if entry.key == "env" else "unsetenv()"
        warnings.append(f"--{entry.key}{_where(entry)}: {what}: Invalid argument (uWSGI logs this and goes on)")
        return
    stack.env.append((name, value if equals and entry.key == "env" else None))


#: Config logic whose uWSGI 2.0.30 behaviour is surprising: muletui does the same, and says so.
_LOGIC_WARNINGS = {
    "if-hostname-match": (
        "--if-hostname-match{where}: uWSGI 2.0.30 inverts this test (its block applies only when the "
        "pattern does not compile), and muletui does the same; if-hostname = NAME compares names"
    ),
    "if-not-hostname-match": (
        "--if-not-hostname-match{where}: uWSGI 2.0.30 inverts this test (its block applies whenever the "
        "pattern compiles), and muletui does the same"
    ),
}


def _where(entry: ConfigEntry) -> str:
    return "" if entry.origin == "command line" else f" ({entry.origin})"


def _warning(entry: ConfigEntry, option: Option | None, customs: set[str]) -> str:
    """The one warning for an option muletui does not emulate, or a key that is no option."""
    where = _where(entry)
    if option is None and entry.key in customs:
        return f"--{shown(entry.key)}{where}: a custom option (declare-option): muletui does not apply its template"
    if option is None:
        return (
            f"--{shown(entry.key)}{where}: not a uWSGI option; uWSGI keeps it in uwsgi.opt (and as "
            f"%({shown(entry.key)})) and ignores it{suggest(entry.key)}"
        )
    if option.note:
        return f"--{entry.key}{where}: {option.note}"
    return f"--{entry.key}{where}: accepted, but muletui does not emulate it ({option.reason})"


def _custom_options(entries: list[ConfigEntry]) -> set[str]:
    """The names ``declare-option`` and ``declare-option2`` declare (uWSGI applies a use of
    either, wherever it stands in a config file).

    Raises:
        ConfigError: a declaration without '=', with uWSGI's line.
    """
    names: set[str] = set()
    for entry in entries:
        if entry.key == "declare-option":
            declared = custom_option(entry.value or "")
            if declared is None:
                raise ConfigError(entry.origin, f"invalid {shown(entry.value or '')} syntax, must be newoption=template")
            names.add(declared[0])
    return names


def _check_strict(entries: list[ConfigEntry], customs: set[str]) -> None:
    """uWSGI's ``strict``: an option that is no uWSGI option (but a ``set-placeholder`` name,
    applied as read) stops the config. uWSGI checks each option as it comes while ``strict`` is
    on, and at the end every option it did not apply yet: so once ``strict`` is on at the end,
    every such option counts. muletui's own options and the custom options in ``customs`` pass.

    Raises:
        ConfigError: ``[strict-mode] unknown config directive: NAME``, uWSGI's line.
    """
    strict_entries = [entry for entry in entries if entry.key == "strict"]
    on_at_end = bool(strict_entries) and _flag_value(strict_entries[-1])
    on = False
    for entry in entries:
        if entry.key == "strict":
            on = _flag_value(entry)
        elif (on or on_at_end) and entry.key not in customs and _unknown_to_uwsgi(entry):
            raise ConfigError(entry.origin, f"[strict-mode] unknown config directive: {shown(entry.uwsgi_name)}")


def _unknown_to_uwsgi(entry: ConfigEntry) -> bool:
    """uWSGI would look ``entry`` up as an option and find none (a ``set-placeholder`` name is
    never looked up; muletui's own options are muletui's business)."""
    option = lookup(entry.key)
    own = option is not None and option.own
    return not (own or is_uwsgi_option(entry.uwsgi_name) or (entry.placeholder and entry.immediate))
