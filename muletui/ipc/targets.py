"""Pieces of uWSGI's signal target grammar shared by the master's router and the raising mule."""

from __future__ import annotations

import re

_LEADING_INT = re.compile(r"\s*([+-]?\d+)")


def atoi(text: str) -> int:
    """C's ``atoi``: the leading integer of ``text``, 0 if none (``"foo"`` → 0, ``"2x"`` → 2)."""
    match = _LEADING_INT.match(text)
    return int(match.group(1)) if match else 0
