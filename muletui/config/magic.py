"""uWSGI's magic variables: the ``%`` + one character substituted in the raw text of a config file.

uWSGI substitutes them before any parser sees the text (core/io.c ``uwsgi_open_and_read``,
core/utils.c ``magic_sub``), so they work in keys, values and section names alike; every config
reader goes through :func:`read_config_text`. The table is filled in three steps, as in uWSGI:
at start the process-wide ones (core/uwsgi.c ``uwsgi_setup``), then for each file its own
(``config_magic_table_fill``), whose upper-case twins stay those of the first file read.
``%(key)`` references are another, later pass (:mod:`muletui.config.passes`).
"""

from __future__ import annotations

import os
import re
import time

from muletui import UWSGI_VERSION
from muletui.config.entry import ConfigError
from muletui.config.limits import MAX_CONFIG_CHARS, MAX_LINE_CHARS

_VARIABLE = re.compile(r"%(.)", re.DOTALL)

#: The per-file variables whose upper-case twin keeps the first file's value.
_FIRST_ROUND = "odspcenxij"


class MagicTable:
    """The magic variables of one command line, as uWSGI 2.0.30 fills them.

    Process-wide, taken when the table is made: ``%v`` the working directory, ``%h`` the host
    name, ``%t`` / ``%T`` the time in seconds / microseconds, ``%V`` the uWSGI version, ``%k``
    the CPU cores online, ``%u`` / ``%U`` uid and user name, ``%g`` / ``%G`` gid and group name,
    ``%[`` the ESC character, ``%b`` the binary path (pyuwsgi's is the Python executable, and so
    is muletui's), ``%%`` a '%'. Per file (:meth:`for_file`): ``%o`` the path as given, ``%p``
    the absolute path, ``%s`` the file name, ``%d`` its directory with a trailing '/', ``%c``
    that directory's name, ``%e`` the extension, ``%n`` the name without it, ``%x`` the section
    asked for ('' without one), ``%i`` the inode, ``%j`` uWSGI's djb33x hash of ``%p`` in hex,
    ``%0``..``%9`` the components of ``%d``; ``%O %P %S %D %C %E %N %X %I %J`` are those of the
    first file. Any other character gives '' (``%(`` stays, for the references pass).
    """

    def __init__(self) -> None:
        self._table = _process_table()
        self._first_done = False

    def for_file(self, path: str, section: str | None, *, again: bool = False) -> dict[str, str]:
        """Fill in file ``path`` read for ``section`` and return the table to substitute with.

        ``again``: uWSGI's ``:section`` form (the last ini file once more), where ``%o`` becomes
        '' and the other per-file variables keep their values; only ``%x`` changes.
        """
        table = self._table
        table["o"] = "" if again else path
        table["x"] = section or ""
        if not again:
            table.update(_file_table(path))
        if not self._first_done:
            self._first_done = True
            table.update({letter.upper(): table.get(letter, "") for letter in _FIRST_ROUND})
        return dict(table)


def process_variables() -> dict[str, str]:
    """The process-wide magic variables (``uwsgi.magic_table`` before any config file)."""
    return _process_table()


def _process_table() -> dict[str, str]:
    import grp  # noqa: PLC0415 - only once a config file is read: the master keeps what it imports
    import pwd  # noqa: PLC0415

    uid, gid = os.getuid(), os.getgid()
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    try:
        group = grp.getgrgid(gid).gr_name
    except KeyError:
        group = str(gid)
    now_us = time.time_ns() // 1000
    return {
        "%": "%",
        "(": "%(",
        "v": os.getcwd(),
        "h": os.uname().nodename,
        "t": str(now_us // 1_000_000),
        "T": str(now_us),
        "V": UWSGI_VERSION,
        "k": str(os.sysconf("SC_NPROCESSORS_ONLN")),
        "[": "\x1b",
        "u": str(uid),
        "U": user,
        "g": str(gid),
        "G": group,
        "b": _binary_path(),
    }


def _binary_path() -> str:
    """uWSGI's ``uwsgi_get_binary_path``: ``/proc/self/exe`` resolved (pyuwsgi: the Python binary)."""
    try:
        return os.readlink("/proc/self/exe")
    except OSError:
        import sys  # noqa: PLC0415 - fallback only

        return sys.executable


def _file_table(path: str) -> dict[str, str]:
    # uWSGI resolves symlinks in the path, except when the config file itself is one
    full = os.path.join(os.getcwd(), path) if os.path.islink(path) else os.path.realpath(path)
    directory, _, name = full.rpartition("/")
    directory += "/"
    stem, dot, extension = name.rpartition(".")
    table = {
        "p": full,
        "s": name,
        "d": directory,
        "c": os.path.basename(directory[:-1]),
        "e": extension if dot else "",
        "n": stem if dot else name,
        "j": djb33x_hex(full),
        "i": "",
        **{str(index): "" for index in range(10)},
    }
    try:
        table["i"] = str(os.lstat(full).st_ino)
    except OSError:
        pass
    components = [part for part in directory.split("/") if part]
    table.update({str(index): part for index, part in enumerate(components[:10])})
    return table


def djb33x_hex(text: str) -> str:
    """uWSGI's ``%j``: the djb33x hash of ``text``'s bytes, its four bytes in memory order
    (little-endian) as upper-case hex. The bytes are C ``char``, so signed on x86."""
    value = 5381
    for byte in text.encode():
        value = ((value * 33) ^ (byte - 256 if byte > 127 else byte)) & 0xFFFFFFFF
    return value.to_bytes(4, "little").hex().upper()


def read_config_text(path: str, section: str | None, magic: MagicTable | None = None, *, again: bool = False) -> str:
    """Return the text of config file ``path`` with its ``%`` variables substituted.

    ``magic`` is the command line's table (a fresh one when ``None``: ``path`` is then the first
    file); ``again``: read as uWSGI's ``:section`` form (:meth:`MagicTable.for_file`). Reads at most :data:`MAX_CONFIG_CHARS` characters (``/dev/zero`` is refused after
    4 MiB, not read to the end), and no line, before or after substitution, may exceed
    :data:`MAX_LINE_CHARS`.

    Raises:
        ConfigError: the file cannot be read, is not UTF-8 or is too large (origin ``path``); a
            line is too long (origin ``path:LINE``).
    """
    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read(MAX_CONFIG_CHARS + 1)
    except OSError as err:
        raise ConfigError(path, f"unable to load configuration from {path}: {err.strerror}") from err
    except UnicodeDecodeError as err:
        reason = f"unable to load configuration from {path}: not UTF-8 text (byte {err.start})"
        raise ConfigError(path, reason) from err
    if len(text) > MAX_CONFIG_CHARS:
        limit = f"larger than {MAX_CONFIG_CHARS >> 20} MiB, muletui's limit for a config file"
        raise ConfigError(path, f"unable to load configuration from {path}: {limit}")
    _check_line_lengths(path, text, "")
    table = (magic or MagicTable()).for_file(path, section, again=again)
    growth = sum(len(table.get(match.group(1), "")) - 2 for match in _VARIABLE.finditer(text))
    if len(text) + growth > MAX_CONFIG_CHARS:
        limit = f"larger than {MAX_CONFIG_CHARS >> 20} MiB once its % variables are substituted"
        raise ConfigError(path, f"unable to load configuration from {path}: {limit}")
    text = _VARIABLE.sub(lambda match: table.get(match.group(1), ""), text)
    _check_line_lengths(path, text, " once its % variables are substituted")
    return text


def _check_line_lengths(path: str, text: str, when: str) -> None:
    """Refuse ``text`` if a line of it is longer than :data:`MAX_LINE_CHARS` (origin ``path:LINE``)."""
    if len(text) <= MAX_LINE_CHARS:
        return
    for number, line in enumerate(text.split("\n"), start=1):
        if len(line) > MAX_LINE_CHARS:
            raise ConfigError(f"{path}:{number}", f"line longer than {MAX_LINE_CHARS} characters{when}")
