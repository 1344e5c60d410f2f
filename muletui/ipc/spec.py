"""What the master tells the stack root at start: the whole stack, with the descriptors it inherits.

Sent once, pickled, over the control socket (both ends are muletui's own processes).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MuleSpec:
    """One mule slot. ``program`` is uWSGI's "patch": ``x.py``, ``module:callable`` or ``None``."""

    mule_id: int
    program: str | None
    farms: tuple[str, ...] = ()

    @property
    def mode(self) -> str:
        """``script`` (run as ``__main__``), ``callable`` (import and call) or ``signal``."""
        if self.program and self.program.endswith(".py"):
            return "script"
        if self.program and ":" in self.program:
            return "callable"
        return "signal"


@dataclass(frozen=True)
class FarmSpec:
    """A farm: its 1-based index in ``--farm`` order, its name and its members."""

    index: int
    name: str
    members: tuple[int, ...]


@dataclass(frozen=True)
class QueueFds:
    """The two ends of one message queue (SOCK_SEQPACKET pair): writers use ``send``."""

    send: int
    recv: int


@dataclass(frozen=True)
class StackSpec:
    """Everything a stack process needs to play its part."""

    mules: tuple[MuleSpec, ...]
    farms: tuple[FarmSpec, ...]
    mule_queues: dict[int, QueueFds]
    shared_queue: QueueFds
    farm_queues: dict[int, QueueFds]  # by farm index
    report_fd: int  # SOCK_SEQPACKET end every stack process writes reports into
    stats_fd: int
    masterpid: int
    started_on: int
    numproc: int
    opt: dict[str, bytes | bool]
    app: tuple[tuple[str, str], ...] = ()  # ("file" | "module" | "import", value) in load order
    pythonpath: tuple[str, ...] = ()
    report_rate: int = 10_000  # per-message reports allowed per second and process
