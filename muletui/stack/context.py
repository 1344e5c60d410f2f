"""Who this stack process is: bound once in the stack root, again in each mule after fork.

The API modules (:mod:`messaging`, :mod:`signals`, :mod:`locks`) take the process's identity,
descriptors and stats record from the :class:`Context` made here; their hot paths keep copies
in module globals, refreshed by their own ``bind`` (the shim's ``_bind`` calls them all).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from muletui.ipc import reports
from muletui.ipc.spec import StackSpec
from muletui.ipc.stats_block import Field, StatsBlock, queue_count
from muletui.stack.reporter import Reporter


@dataclass
class Context:
    """The bound state of this process: the stack root (both ids 0), a mule or a worker."""

    spec: StackSpec
    mule_id: int
    stats: StatsBlock
    reporter: Reporter
    worker_id: int = 0

    @property
    def slot(self) -> int:
        """This process's record in the stats block (:func:`slot_of`)."""
        return slot_of(self.spec, self.mule_id, self.worker_id)

    def index(self, field: Field) -> int:
        """Index into ``stats.words`` of ``field`` in this process's record."""
        return self.stats.offset(self.slot, field)


def slot_of(spec: StackSpec, mule_id: int, worker_id: int = 0) -> int:
    """The stats block slot of the root (0), mule N (N) or worker W (mules + W)."""
    return mule_id or (len(spec.mules) + worker_id if worker_id else 0)


current: Context | None = None
_stats: StatsBlock | None = None  # mapped once per process tree, inherited across fork


def type_name(value: object) -> str:
    """How CPython's argument parser names a wrong argument's type ("None" for ``None``)."""
    return "None" if value is None else type(value).__name__


def log(text: str) -> None:
    """Write one line to the uWSGI log (this process's stderr), bypassing ``sys.stderr``."""
    data = (text + "\n").encode("utf-8", "backslashreplace")
    while data:
        data = data[os.write(2, data) :]


def warn(text: str, *, here: bool = True) -> None:
    """A muletui warning, reported to the master (outside the rate budget) and, unless ``here``
    is false (the master's line is enough), logged on this process's stderr too."""
    if here or current is None:
        log(f"[muletui] {text}")
    if current is not None:
        current.reporter.send_always((reports.WARNING, current.slot, text))


def bind(spec: StackSpec, mule_id: int, worker_id: int = 0) -> Context:
    """Make this process speak as the stack root (both ids 0), mule ``mule_id`` or worker ``worker_id``."""
    global current, _stats
    if _stats is None:
        _stats = StatsBlock(spec.stats_fd, spec.slots, spec.locks + 1, queue_count(len(spec.mules), len(spec.farms)))
    slot = slot_of(spec, mule_id, worker_id)
    reporter = Reporter(spec.report_fd, _stats, slot, spec.report_rate, batching=slot > 0)
    current = Context(spec, mule_id, _stats, reporter, worker_id)
    _stats.set(slot, Field.PID, os.getpid())
    return current
