"""The unit every option source produces: one uWSGI option with its value and where it came from."""

from __future__ import annotations

from muletui.record import record


@record
class ConfigEntry:
    """One option occurrence, in declaration order.

    ``value`` is ``None`` when the option was given bare (``--master``, ``<mule/>``), otherwise the
    text exactly as written (``''`` for ``mule =`` in an ini file). ``origin`` names the source for
    error messages: ``"command line"`` or ``"conf.ini:7"``.

    ``immediate``: uWSGI applied it while reading the config (``set-placeholder``, ``for``,
    ``ini``, ``iprint``...), so the ``$()``/``@()``/``%()`` passes leave its value as written.
    ``placeholder``: not an option but a name for ``%(name)`` (``set-placeholder``, ``set``),
    which the stack does not interpret.

    ``key`` is muletui's name for the option (an alias's main name); ``spelling`` the uWSGI name
    it was given by, when that differs (``pyimport`` for ``import``): ``uwsgi.opt`` shows that one.
    """

    key: str
    value: str | None
    origin: str
    immediate: bool = False
    placeholder: bool = False
    spelling: str = ""

    @property
    def uwsgi_name(self) -> str:
        """The name uWSGI keeps this option under (its ``uwsgi.opt`` key)."""
        return self.spelling or self.key


#: The most characters of a value an error message quotes: a 50 MB value stays out of the terminal.
QUOTE_LIMIT = 80


def quoted(text: str) -> str:
    """``text`` as an error message quotes it: ``repr`` of its first :data:`QUOTE_LIMIT` characters,
    followed by ``… (N characters)`` when it is longer."""
    if len(text) <= QUOTE_LIMIT:
        return repr(text)
    return f"{text[:QUOTE_LIMIT]!r}… ({len(text)} characters)"


def shown(text: str) -> str:
    """``text`` unquoted (a path, a token) as an error message shows it: cut like :func:`quoted`."""
    if len(text) <= QUOTE_LIMIT:
        return text
    return f"{text[:QUOTE_LIMIT]}… ({len(text)} characters)"


class ConfigError(Exception):
    """A config source that cannot be read; ``str()`` is the one-line message shown to the user:
    ``origin: reason`` (``reason`` alone for an empty ``origin``: a command line that uWSGI's
    ``getopt_long`` refuses), after ``first`` (a likely cause, such as a misspelt option) if given.

    ``status`` is the exit status to end with (1; uWSGI's ``exit`` option chooses its own) and
    ``printed`` what ``iprint`` printed before the config stopped, for stdout.
    """

    def __init__(
        self, origin: str, reason: str, *, first: str = "", status: int = 1, printed: tuple[str, ...] = ()
    ) -> None:
        line = f"{origin}: {reason}" if origin else reason
        super().__init__(f"{first}; {line}" if first else line)
        self.origin = origin
        self.reason = reason
        self.status = status
        self.printed = printed
