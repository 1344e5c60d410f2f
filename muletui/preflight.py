"""Before a stack starts: what it needs from the machine, checked before any socket or process
exists, so that a stack that cannot run is refused with one line instead of a crash loop or an
``EMFILE`` traceback halfway through its start.
"""

from __future__ import annotations

import errno
import os
import resource
import stat

from muletui.config.builder import Plan
from muletui.config.entry import shown
from muletui.config.stack_config import StackConfig

#: Descriptors the master holds besides its channels and the mules' output pipes: the stats
#: block, the lock file, the stack root's control socket, pidfd and output pipes, the event
#: loop's, and those a start opens for a moment (measured: 12 to 14; the console adds none).
MASTER_OWN_DESCRIPTORS = 16


def refusal(plan: Plan) -> str | None:
    """Why ``plan``'s stack cannot start, in one line led by its misspelt options, or ``None``.

    Checked in this order: there is a mule; ``--chdir`` is a directory; every ``--mule=FILE.py``
    can be opened, resolved against ``--chdir`` as its mule will resolve it; the descriptor
    limit (``ulimit -n``) holds what the master needs for these mules and farms.
    """
    reason = _no_mules(plan.stack) or _bad_chdir(plan.stack) or _missing_program(plan.stack)
    reason = reason or _too_few_descriptors(plan)
    if reason is None:
        return None
    return f"{plan.misspelt}; {reason}" if plan.misspelt else reason


def _no_mules(stack: StackConfig) -> str | None:
    """A stack with an app and no mule runs, as in uWSGI; one with neither has nothing to run."""
    if stack.mules or stack.app:
        return None
    return "nothing to run: add --mule, --mule=FILE.py, --mules N or an app (--wsgi-file, --module)"


def _bad_chdir(stack: StackConfig) -> str | None:
    if stack.chdir is None:
        return None
    try:
        mode = os.stat(stack.chdir).st_mode
    except OSError as error:
        return f"--chdir {shown(stack.chdir)}: {error.strerror}"
    if not stat.S_ISDIR(mode):
        return f"--chdir {shown(stack.chdir)}: {os.strerror(errno.ENOTDIR)}"
    return None


def _missing_program(stack: StackConfig) -> str | None:
    """The first ``--mule=FILE.py`` its mule could not open (``module:callable`` is imported, not
    opened, and is left to the mule)."""
    for mule in stack.mules:
        if mule.mode != "script" or mule.program is None:
            continue
        path = os.path.join(stack.chdir or "", mule.program)
        try:
            with open(path, "rb"):
                pass
        except FileNotFoundError:
            return f"mule {mule.mule_id}: no such file: {shown(mule.program)}"
        except OSError as error:
            return f"mule {mule.mule_id}: cannot open {shown(mule.program)}: {error.strerror}"
    return None


def _too_few_descriptors(plan: Plan) -> str | None:
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return None
    needed = _descriptors_needed(plan, soft)
    if needed <= soft:
        return None
    mules, farms = len(plan.stack.mules), len(plan.stack.farms)
    what = f"{mules} mule{'s' if mules != 1 else ''}"
    if farms:
        what += f" and {farms} farm{'s' if farms != 1 else ''}"
    need = "needs" if mules == 1 and not farms else "need"
    return (
        f"{what} {need} {needed} file descriptors, but the limit is {soft} (ulimit -n): "
        f"raise it (ulimit -n {needed}) or run fewer mules"
    )


def _descriptors_needed(plan: Plan, limit: int) -> int:
    """Descriptors the master will hold at once for ``plan``, counting those already open below
    ``limit`` (the kernel hands out the lowest free number, so open ones above it cost nothing).

    Per mule: its queue and its signal socket (two socket pairs, 4) and its two output pipes;
    per farm: a queue and a signal socket (4); the shared queue, shared signal socket, raise
    channel and report socket (8); one per record file. The stack root and each mule hold fewer:
    they inherit the channels but not the master's pipes.
    """
    mules, farms = len(plan.stack.mules), len(plan.stack.farms)
    records = sum(1 for path in (plan.run.log_file, plan.run.events_file) if path)
    return _open_below(limit) + 6 * mules + 4 * farms + 8 + records + MASTER_OWN_DESCRIPTORS


def _open_below(limit: int) -> int:
    return sum(1 for name in os.listdir("/proc/self/fd") if int(name) < limit)
