"""uWSGI's command line as a list of entries, read the way uWSGI's ``getopt_long`` reads it.

uWSGI's rules kept here: ``--opt value`` and ``--opt=value`` both work, except for options
whose argument is optional (``--mule``, ``--mule-msg-size``), where only ``=`` attaches a value;
a required value is the next argument whatever it looks like; a long option may be cut to any
prefix that names one option alone (``--mule-msg=3``); short options cluster (``-Mp 2``) and
take a value attached or next; ``--`` ends the options. Arguments that are no option are config
files, chosen by their extension and read after every option (GNU ``getopt_long`` moves them to
the end); ``--ini``/``--xml``/``--yaml``/``--json``/``--include`` expand their file's options in
place. A name that is no option is refused with ``getopt_long``'s words (``unrecognized option
'--foo'``), the program name left to ``muletui:``, and a spelling hint. Where uWSGI would read
``--mule x.py`` as a config file and die, we stop with a message that explains the ``=`` form.
The option table itself is :mod:`muletui.config.option_table`.
"""

from __future__ import annotations

from muletui.config.entry import ConfigEntry, ConfigError, shown
from muletui.config.option_table import (
    COMMAND_LINE_NAMES,
    GROUPS,
    OPTIONS,
    Arity,
    Option,
    custom_option,
    family_reason,
    lookup,
    short_option,
    suggest,
)
from muletui.config.sources import Expansion

__all__ = ["GROUPS", "OPTIONS", "Arity", "Option", "family_reason", "lookup", "parse_argv", "suggest"]


def parse_argv(argv: list[str]) -> list[ConfigEntry]:
    """The command line as entries in declaration order, config files expanded in place.

    Keys are muletui's names for the options (:attr:`ConfigEntry.spelling` keeps uWSGI's). The
    options go through uWSGI's config logic as they come, then the config files named as
    arguments, then its ``$()``/``@()``/``%()`` passes (:class:`~muletui.config.sources.Expansion`).

    Raises:
        ConfigError: an option ``getopt_long`` refuses (with an empty origin: the line is
            ``getopt_long``'s), or malformed input.
    """
    expansion = Expansion()
    files: list[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        i += 1
        if token == "--":
            files += argv[i:]
            break
        if token.startswith("--"):
            i = _long_option(token, argv, i, expansion)
        elif token.startswith("-") and token != "-":
            i = _short_options(token, argv, i, expansion)
        else:
            files.append(token)
    for name in files:
        if not name.startswith("["):  # uWSGI skips these arguments
            expansion.load(name, None, "command line")
    return expansion.finish()


def _long_option(token: str, argv: list[str], i: int, expansion: Expansion) -> int:
    """Add ``--NAME[=VALUE]`` (its value from ``argv[i]`` if it needs one); the next index."""
    written, equals, attached = token[2:].partition("=")
    customs = _custom_options(expansion)
    name = _full_name(token, written, [*COMMAND_LINE_NAMES, *customs], expansion)
    option = customs.get(name) or _option(name)
    value: str | None = attached if equals else None
    if equals and option.arity is Arity.FLAG:
        raise _refused(f"option '--{name}' doesn't allow an argument", expansion)
    if not equals and option.arity is Arity.VALUE:
        if i == len(argv):
            raise _refused(f"option '--{name}' requires an argument", expansion)
        value, i = argv[i], i + 1
    elif not equals and option.arity is Arity.OPTIONAL:
        _refuse_space_form(option.name, argv[i] if i < len(argv) else None)
    expansion.add(_entry(option, name, value))
    return i


def _full_name(token: str, written: str, names: list[str], expansion: Expansion) -> str:
    """``getopt_long``'s match among ``names``: the option named ``written``, or the only one it
    abbreviates."""
    if written in names:
        return written
    matches = [name for name in names if name.startswith(written)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        possibilities = " ".join(f"'--{name}'" for name in matches)
        raise _refused(f"option '{shown(token)}' is ambiguous; possibilities: {possibilities}", expansion)
    raise _refused(f"unrecognized option '{shown(token)}'{suggest(written)}", expansion)


def _short_options(token: str, argv: list[str], i: int, expansion: Expansion) -> int:
    """Add ``-X``, ``-XVALUE`` or a cluster ``-XY...`` of flags; the next index."""
    for at, letter in enumerate(token[1:], start=2):
        name = short_option(letter)
        if name is None:
            raise _refused(f"invalid option -- '{letter}'", expansion)
        option = _option(name)
        value: str | None = None
        if option.arity is not Arity.FLAG:
            value = token[at:] or None
            if value is None and option.arity is Arity.VALUE:
                if i == len(argv):
                    raise _refused(f"option requires an argument -- '{letter}'", expansion)
                value, i = argv[i], i + 1
        expansion.add(_entry(option, name, value))
        if option.arity is not Arity.FLAG:
            break
    return i


def _custom_options(expansion: Expansion) -> dict[str, Option]:
    """The custom options ``declare-option`` declared so far: uWSGI applies it at once and
    rebuilds ``getopt_long``'s table, so the options after it may use them (``declare-option2``
    waits for the end of the config)."""
    declared = (custom_option(entry.value or "") for entry in expansion.entries if entry.uwsgi_name == "declare-option")
    return {found[0]: Option(found[0], found[1], "", "", emulated=False) for found in declared if found}


def _option(name: str) -> Option:
    option = lookup(name)
    assert option is not None, name  # every command line name is in the table
    return option


def _entry(option: Option, name: str, value: str | None) -> ConfigEntry:
    """The entry for ``option`` given as ``name`` (its spelling, when that is an alias)."""
    return ConfigEntry(option.name, value, "command line", spelling="" if name == option.name else name)


def _refused(reason: str, expansion: Expansion) -> ConfigError:
    """``getopt_long``'s refusal, after what the options before it printed (``iprint``)."""
    return ConfigError("", reason, printed=expansion.printed)


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
