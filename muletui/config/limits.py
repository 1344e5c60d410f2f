"""The upper bound of every count and size muletui accepts, and the checks that apply them.

Each bound is far above what a real stack uses and low enough that a typo (``--locks 100000000``)
or a hostile file (``--ini /dev/zero``) is answered with one line within a second instead of
eating memory. Where uWSGI has a bound (64 timers, 64 file monitors) it is uWSGI's, with its
words; where uWSGI reads a number into a C ``int`` that is the bound. README.md lists them.
"""

from __future__ import annotations

import math
from collections import Counter

from muletui.config.entry import ConfigEntry, ConfigError, quoted, shown
from muletui.record import record

C_INT_MAX = 2**31 - 1

#: Mules in one stack. The master queues one fork request per mule on a control socket that
#: holds about 280 datagrams at Linux's default buffer size (290 mules started at once overran
#: it), and every stack process holds 4 descriptors per mule. Measured with 256 mules: ready in
#: 1 s, 0.5 GB in all, ~1,000 descriptors in each mule and ~1,600 in the master.
MAX_MULES = 256
#: Workers (``--processes``), for the same reasons as mules: a fork request each, and 2
#: descriptors per worker in every stack process.
MAX_WORKERS = 256
#: Farms: each adds a queue and a signal socket (4 descriptors) to every stack process.
MAX_FARMS = 256
#: ``--locks N`` (locks 0..N): ~200 bytes and ~1 µs each in the stack root at start. uWSGI
#: itself maps two shared pages per lock and runs out of memory maps (vm.max_map_count, 65530)
#: near 32,000; muletui's lock bytes must stay below its table lock at 1 MiB.
MAX_LOCKS = 65536
#: uWSGI's tables: "you can register max 64 timers !!!" (and rb_timers, file monitors); the
#: same 64 as the stack's own tables (muletui.stack.signals), which the app's calls meet.
TABLE_LIMIT = 64
#: A config file: a real one is a few KiB. Read at most this much, never the whole file first.
MAX_CONFIG_CHARS = 4 << 20
#: A line of a config file, and a value once its ``%`` variables and references are expanded.
MAX_LINE_CHARS = 64 << 10
#: Options from one command line and every config file it includes, all together.
MAX_OPTIONS = 10_000


@record
class _Bound:
    most: int
    unit: str  # what is counted, for the message


#: Number options with a bound of their own; every other number option is bounded by a C int.
_NUMBER_BOUNDS = {
    "mules": _Bound(MAX_MULES, "mules"),
    "locks": _Bound(MAX_LOCKS, "locks"),
    "processes": _Bound(MAX_WORKERS, "workers"),
}

#: Repeatable options and how many of each a stack may have, with uWSGI's words where it has some.
_COUNT_BOUNDS = {
    "farm": (MAX_FARMS, f"too many farms: muletui runs at most {MAX_FARMS}"),
    "timer": (TABLE_LIMIT, f"you can register max {TABLE_LIMIT} timers !!!"),
    "rbtimer": (TABLE_LIMIT, f"you can register max {TABLE_LIMIT} rb_timers !!!"),
    "fs-signal": (TABLE_LIMIT, f"you can register max {TABLE_LIMIT} file monitors !!!"),
    "touch-mules-reload": (TABLE_LIMIT, f"too many --touch-mules-reload files: muletui watches at most {TABLE_LIMIT}"),
    "touch-reload": (TABLE_LIMIT, f"too many --touch-reload files: muletui watches at most {TABLE_LIMIT}"),
}


def check_number(entry: ConfigEntry, number: float) -> None:
    """Refuse a number option's value above its bound (or not finite), naming the bound.

    Raises:
        ConfigError: at ``entry.origin``.
    """
    bound = _NUMBER_BOUNDS.get(entry.key, _Bound(C_INT_MAX, ""))
    if not math.isfinite(number):
        raise ConfigError(entry.origin, f"--{entry.key} needs a finite number, got {quoted(entry.value or '')}")
    if number > bound.most:
        what = f"{bound.most} {bound.unit}" if bound.unit else f"{bound.most} (uWSGI reads it into a C int)"
        raise ConfigError(entry.origin, f"--{entry.key}={shown(entry.value or '')}: at most {what}")


def check_mule_count(entry: ConfigEntry, count: int) -> None:
    """Refuse a stack that has grown past :data:`MAX_MULES` with ``entry``.

    Raises:
        ConfigError: at ``entry.origin``.
    """
    if count > MAX_MULES:
        raise ConfigError(entry.origin, f"too many mules: {count} (muletui runs at most {MAX_MULES})")


def check_counts(entries: list[ConfigEntry]) -> None:
    """Refuse the first occurrence of a repeatable option beyond its bound (:data:`TABLE_LIMIT`...).

    Raises:
        ConfigError: at the origin of that occurrence.
    """
    seen: Counter[str] = Counter()
    for entry in entries:
        bound = _COUNT_BOUNDS.get(entry.key)
        if bound is None:
            continue
        seen[entry.key] += 1
        if seen[entry.key] > bound[0]:
            raise ConfigError(entry.origin, bound[1])
