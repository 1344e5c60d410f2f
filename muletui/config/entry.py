"""The unit every option source produces: one uWSGI option with its value and where it came from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConfigEntry:
    """One option occurrence, in declaration order.

    ``value`` is ``None`` when the option was given bare (``--master``, ``<mule/>``), otherwise the
    text exactly as written (``''`` for ``mule =`` in an ini file). ``origin`` names the source for
    error messages: ``"command line"`` or ``"conf.ini:7"``.
    """

    key: str
    value: str | None
    origin: str


class ConfigError(Exception):
    """A config source that cannot be read; ``str()`` is the one-line message shown to the user."""

    def __init__(self, origin: str, reason: str) -> None:
        super().__init__(f"{origin}: {reason}")
        self.origin = origin
        self.reason = reason
