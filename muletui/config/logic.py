"""uWSGI's config logic (core/config.c, core/uwsgi.c ``uwsgi_opt_logic``): ``for``/``endfor``,
``if-*``/``endif`` blocks and placeholders, applied to options in the order they are read.

uWSGI 2.0.30's rules, kept here: one block at a time (a block inside a block is an error,
``recursive logic in options is not supported``); a block's condition is evaluated again for
each option in it, and a ``for`` repeats each option for every item before the next option
(``for = a b`` / ``x = 1`` / ``y = 2`` gives x, x, y, y); ``%(_)`` in an option's value is the
item, or the condition's subject (the variable's value for ``if-env``); ``end``, ``endfor``,
``end-for``, ``endif`` and ``end-if`` close whatever block is open. The conditions read the
environment and the options exported so far, at read time: ``env =`` and the ``%(key)`` pass
come later.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from muletui.config.entry import ConfigEntry, ConfigError
from muletui.config.limits import MAX_OPTIONS
from muletui.record import replace

#: Keys that close the open block, whatever it is (``add_exported_option_do``).
END_KEYS = frozenset({"end", "endfor", "endif", "end-if", "end-for"})

#: What ``if-plugin`` finds: the plugins built into pyuwsgi 2.0.30 (``uwsgi --plugins-list``).
PLUGINS = frozenset(
    {
        "python", "spooler", "symcall", "ping", "signal", "cache", "rpc", "pyuwsgi", "gevent",
        "stats_pusher_statsd", "nagios", "rrdtool", "carbon", "corerouter", "fastrouter", "http",
        "ugreen", "syslog", "rsyslog", "logsocket", "router_uwsgi", "router_redirect",
        "router_basicauth", "zergpool", "redislog", "mongodblog", "router_rewrite", "router_http",
        "logfile", "router_cache", "rawrouter", "router_static", "sslrouter", "cheaper_busyness",
        "transformation_tofile", "transformation_gzip", "transformation_chunked",
        "transformation_offload", "router_memcached", "router_redis", "router_hash",
        "router_expires", "router_metrics", "transformation_template", "stats_pusher_socket",
    }
)

#: A block's body: for one option and the block's argument, the values to export it with.
Body = Callable[[str | None, str, Callable[[str], str | None]], Iterator[str | None]]


def _with_item(value: str | None, item: str | None) -> str | None:
    """``uwsgi_substitute(value, "%(_)", item)``: unchanged when there is no item."""
    if value is None or item is None:
        return value
    return value.replace("%(_)", item)


def _for(value: str | None, arg: str, _opt: Callable[[str], str | None]) -> Iterator[str | None]:
    for item in arg.split(" "):  # strtok_r on spaces: runs of them count as one
        if item:
            yield _with_item(value, item)


def _for_glob(value: str | None, arg: str, _opt: Callable[[str], str | None]) -> Iterator[str | None]:
    import glob  # noqa: PLC0415 - only for a for-glob block

    # GLOB_MARK | GLOB_NOCHECK: directories get a '/', no match gives the pattern itself
    paths = sorted(glob.glob(arg))
    if not paths:
        yield _with_item(value, arg)
    for path in paths:
        yield _with_item(value, path + "/" if os.path.isdir(path) else path)


def _for_times(value: str | None, arg: str, _opt: Callable[[str], str | None]) -> Iterator[str | None]:
    for number in range(1, _atoi(arg) + 1):
        yield _with_item(value, str(number))


def _for_readline(value: str | None, arg: str, _opt: Callable[[str], str | None]) -> Iterator[str | None]:
    try:
        with open(arg, encoding="utf-8", errors="replace") as lines:
            for line in lines:
                yield _with_item(value, line.rstrip("\r\n"))
    except OSError:
        return  # uWSGI logs open()'s error and adds nothing; the builder warns


def _matches_pair(arg: str, found: Callable[[str], str | None]) -> tuple[bool, str | None]:
    """``if-env``/``if-opt``: ``NAME`` (set at all) or ``NAME=VALUE`` (set to exactly VALUE);
    the found value for ``%(_)``."""
    name, equals, wanted = arg.partition("=")
    value = found(name)
    return value is not None and (not equals or value == wanted), value


def _condition(test: Callable[[str, Callable[[str], str | None]], tuple[bool, str | None]]) -> Body:
    def body(value: str | None, arg: str, opt: Callable[[str], str | None]) -> Iterator[str | None]:
        holds, item = test(arg, opt)
        if holds:
            yield _with_item(value, item)

    return body


def _negated(test: Callable[[str, Callable[[str], str | None]], tuple[bool, str | None]]) -> Body:
    """``if-not-env``/``if-not-opt``: true when the name is unset, or set to another value."""

    def negation(arg: str, opt: Callable[[str], str | None]) -> tuple[bool, str | None]:
        holds, item = test(arg, opt)
        return not holds, item

    return _condition(negation)


def _on_path(check: Callable[[str], bool], wanted: bool) -> Body:
    return _condition(lambda arg, _opt: (check(arg) is wanted, arg))


def _hostname_match(pattern: str) -> bool:
    """uWSGI 2.0.30's ``uwsgi_regexp_match_pattern``: ``!match()`` of a match count, so true only
    when the pattern does not compile (observed: ``[`` matches, ``.*`` does not)."""
    import re  # noqa: PLC0415

    try:
        re.compile(pattern)
    except re.error:
        return True
    return False


def _hostname() -> str:
    return os.uname().nodename


def _env(arg: str, _opt: Callable[[str], str | None]) -> tuple[bool, str | None]:
    return _matches_pair(arg, os.environ.get)


def _opt(arg: str, opt: Callable[[str], str | None]) -> tuple[bool, str | None]:
    return _matches_pair(arg, opt)


def _readable(path: str) -> bool:
    return os.access(path, os.R_OK)


def _always(holds: bool) -> Body:
    """``if-reload``/``if-not-reload``: muletui's stack is never a uWSGI reload; no ``%(_)``."""

    def body(value: str | None, _arg: str, _opt: Callable[[str], str | None]) -> Iterator[str | None]:
        if holds:
            yield value

    return body


BLOCKS: dict[str, Body] = {
    "for": _for,
    "for-glob": _for_glob,
    "for-times": _for_times,
    "for-readline": _for_readline,
    "if-opt": _condition(_opt),
    "if-not-opt": _negated(_opt),
    "if-env": _condition(_env),
    "ifenv": _condition(_env),
    "if-not-env": _negated(_env),
    "if-reload": _always(False),
    "if-not-reload": _always(True),
    "if-hostname": _condition(lambda arg, _opt: (_hostname() == arg, arg)),
    "if-not-hostname": _condition(lambda arg, _opt: (_hostname() != arg, arg)),
    "if-hostname-match": _on_path(_hostname_match, True),
    "if-not-hostname-match": _on_path(_hostname_match, False),
    "if-exists": _on_path(_readable, True),
    "ifexists": _on_path(_readable, True),
    "if-not-exists": _on_path(_readable, False),
    "if-file": _on_path(os.path.isfile, True),
    "if-not-file": _on_path(os.path.isfile, False),
    "if-dir": _on_path(os.path.isdir, True),
    "ifdir": _on_path(os.path.isdir, True),
    "if-directory": _on_path(os.path.isdir, True),
    "if-not-dir": _on_path(os.path.isdir, False),
    "if-plugin": _on_path(PLUGINS.__contains__, True),
    "ifplugin": _on_path(PLUGINS.__contains__, True),
    "if-not-plugin": _on_path(PLUGINS.__contains__, False),
}


def _atoi(text: str) -> int:
    """C ``atoi``: leading blanks, a sign, digits; 0 without digits. Bounded by the option limit."""
    text = text.lstrip(" \t\n\r\f\v")
    sign = -1 if text[:1] == "-" else 1
    text = text[1:] if text[:1] in "+-" else text
    digits = len(text) - len(text.lstrip("0123456789"))
    return min(sign * int(text[:digits][:12] or "0"), MAX_OPTIONS + 1)


class ConfigLogic:
    """The open block, if any. ``found(key)`` answers ``if-opt``: the first exported value."""

    def __init__(self, found: Callable[[str], str | None]) -> None:
        self._found = found
        self._block: tuple[str, str, str] | None = None  # key, argument, origin

    @property
    def open(self) -> bool:
        return self._block is not None

    def start(self, entry: ConfigEntry) -> None:
        """Open the block ``entry`` starts (a key of :data:`BLOCKS`).

        Raises:
            ConfigError: a block is already open (uWSGI's words; it exits).
        """
        if self._block is not None:
            reason = f"recursive logic in options is not supported (option = {entry.key}); close the block of {self._block[2]} first"
            raise ConfigError(entry.origin, reason)
        self._block = (entry.key, entry.value or "", entry.origin)

    def end(self) -> None:
        self._block = None

    def run(self, entry: ConfigEntry) -> Iterator[ConfigEntry]:
        """The entries the open block makes of ``entry`` (none, one, or one per item)."""
        assert self._block is not None
        key, argument, _origin = self._block
        for value in BLOCKS[key](entry.value, argument, self._found):
            yield replace(entry, value=value)
