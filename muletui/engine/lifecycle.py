"""Mule lifecycle: the states, the legal moves between them, and the respawn throttle."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from muletui.ipc.spec import MuleSpec


class MuleState(StrEnum):
    """Where a mule slot is in its life (supervisor's names).

    A mule that ends on its own is never left down: it is respawned (BACKOFF in a crash loop).
    So a mule that is down and stays down was stopped, by the operator (``stop``) or with the
    stack: STOPPED, as supervisor calls a process stopped on request, not EXITED.
    """

    STARTING = "STARTING"  # fork requested, pid not known yet
    RUNNING = "RUNNING"
    BACKOFF = "BACKOFF"  # crashed; waiting to be respawned
    STOPPING = "STOPPING"  # told to stop (operator, reload or shutdown)
    STOPPED = "STOPPED"  # stopped on request; stays down until started again (restart)
    FATAL = "FATAL"  # cannot be spawned any more (the stack root is gone)


_LEGAL: dict[MuleState, frozenset[MuleState]] = {
    MuleState.STARTING: frozenset({MuleState.RUNNING, MuleState.STOPPING, MuleState.FATAL, MuleState.STOPPED}),
    MuleState.RUNNING: frozenset({MuleState.STOPPING, MuleState.BACKOFF, MuleState.STARTING, MuleState.FATAL}),
    MuleState.BACKOFF: frozenset({MuleState.STARTING, MuleState.STOPPED, MuleState.FATAL}),
    MuleState.STOPPING: frozenset({MuleState.STOPPED, MuleState.STARTING, MuleState.FATAL}),
    MuleState.STOPPED: frozenset({MuleState.STARTING, MuleState.FATAL}),
    MuleState.FATAL: frozenset({MuleState.STARTING}),
}


class IllegalTransitionError(RuntimeError):
    """A state change the lifecycle does not allow: a bug in the master, never user input."""


def check_transition(old: MuleState, new: MuleState) -> None:
    if new not in _LEGAL[old]:
        raise IllegalTransitionError(f"{old.value} -> {new.value}")


@dataclass(frozen=True)
class RespawnPolicy:
    """How long to wait before respawning a crashed mule.

    The first ``free_retries`` quick crashes in a row are respawned after ``base_delay`` (uWSGI's
    ~1 s master cycle); after that the delay doubles up to ``max_delay``. A mule that stayed up
    ``stable_after`` seconds is not in a loop: its crash count starts again.
    """

    base_delay: float = 1.0
    free_retries: int = 3
    max_delay: float = 30.0
    stable_after: float = 10.0

    def delay(self, quick_crashes: int) -> float:
        """Delay before respawn number ``quick_crashes`` (1-based) of a crash loop."""
        extra = quick_crashes - self.free_retries
        if extra <= 0:
            return self.base_delay
        return min(self.max_delay, self.base_delay * 2**extra)


@dataclass
class Mule:
    """The master's view of one mule slot."""

    spec: MuleSpec
    state: MuleState = MuleState.STARTING
    pid: int = 0
    incarnation: int = 0
    respawns: int = 0
    quick_crashes: int = 0
    started_at: float = 0.0
    retry_at: float | None = None
    last_exit: str = ""
    stop_requested: bool = False  # the running incarnation's exit is expected
    restart_after_stop: bool = False
    reload_when_spawned: bool = False  # a reload asked for while the fork was under way

    @property
    def mule_id(self) -> int:
        return self.spec.mule_id
