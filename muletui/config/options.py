"""uWSGI's option names and syntax: the command line (and config files) as a list of entries.

uWSGI's rules kept here: ``--opt value`` and ``--opt=value`` both work, except for options
whose argument is optional (``--mule``, ``--mule-msg-size``), where only ``=`` attaches a value;
a bare positional argument is a config file chosen by its extension; ``--ini``/``--xml``/
``--yaml``/``--json``/``--include`` expand their file's options in place. The option table
itself is :mod:`muletui.config.option_table`. Where uWSGI would read
``--mule x.py`` as a config file and die, we stop with a message that explains the ``=`` form.
"""

from __future__ import annotations

from muletui.config.entry import ConfigEntry, ConfigError, shown
from muletui.config.option_table import GROUPS, OPTIONS, Arity, Option, family_reason, lookup, suggest
from muletui.config.sources import Expansion

__all__ = ["GROUPS", "OPTIONS", "Arity", "Option", "family_reason", "lookup", "parse_argv", "suggest"]


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


def parse_argv(argv: list[str]) -> list[ConfigEntry]:
    """The command line as entries in declaration order, config files expanded in place.

    Keys are canonical option names for known options and the name as written otherwise. The
    options go through uWSGI's config logic as they come, then its ``$()``/``@()``/``%()``
    passes (:class:`~muletui.config.sources.Expansion`). Raises :class:`ConfigError` for
    malformed input.
    """
    expansion = Expansion()
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
            expansion.load(token, None, "command line")
            continue
        option = lookup(name)
        if option is not None and option.arity is Arity.OPTIONAL and value is None:
            _refuse_space_form(option.name, argv[i] if i < len(argv) else None)
        elif value is None and _takes_value(option, name) and i < len(argv) and _looks_like_value(argv[i]):
            value = argv[i]
            i += 1
        elif option is not None and option.arity is Arity.VALUE and value is None:
            raise ConfigError("command line", f"--{shown(name)} needs a value")
        expansion.add(ConfigEntry(option.name if option else name, value, "command line"))
    return expansion.finish()


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
