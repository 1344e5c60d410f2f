"""Process slot lifecycles: the states, the legal moves, the respawn throttle, and the decisions.

:class:`Lifecycle` decides what a slot's news (spawned, exited, a timer due) and the actions on
it (stop, restart, kill, reload, the stack stopping) lead to. It changes the slot's state and
counters and returns :data:`Effect` values; the master carries them out with what it owns (the
stack root, timers, pipes, the event bus). Deciding needs no process and no event loop, only
a clock, so every decision is tested without either.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterable
from enum import StrEnum

from muletui.engine import events
from muletui.engine.shutdown import no_mercy_line
from muletui.record import record


class SlotState(StrEnum):
    """Where a process slot is in its life (supervisor's names).

    A process that ends on its own is never left down: it is respawned (BACKOFF in a crash loop).
    So a slot that is down and stays down was stopped, by the operator (``stop``) or with the
    stack: STOPPED, as supervisor calls a process stopped on request, not EXITED.
    """

    STARTING = "STARTING"  # fork requested, pid not known yet
    RUNNING = "RUNNING"
    BACKOFF = "BACKOFF"  # crashed; waiting to be respawned
    STOPPING = "STOPPING"  # told to stop (operator, reload or shutdown)
    STOPPED = "STOPPED"  # stopped on request; stays down until started again (restart)
    FATAL = "FATAL"  # cannot be spawned any more (the stack root is gone)


_LEGAL: dict[SlotState, frozenset[SlotState]] = {
    SlotState.STARTING: frozenset({SlotState.RUNNING, SlotState.STOPPING, SlotState.FATAL, SlotState.STOPPED}),
    SlotState.RUNNING: frozenset({SlotState.STOPPING, SlotState.BACKOFF, SlotState.STARTING, SlotState.FATAL}),
    SlotState.BACKOFF: frozenset({SlotState.STARTING, SlotState.STOPPED, SlotState.FATAL}),
    SlotState.STOPPING: frozenset({SlotState.STOPPED, SlotState.STARTING, SlotState.FATAL}),
    SlotState.STOPPED: frozenset({SlotState.STARTING, SlotState.FATAL}),
    SlotState.FATAL: frozenset({SlotState.STARTING}),
}


class IllegalTransitionError(RuntimeError):
    """A state change the lifecycle does not allow: a bug in the master, never user input."""


def check_transition(old: SlotState, new: SlotState) -> None:
    """Raise :class:`IllegalTransitionError` unless ``old`` may become ``new``."""
    if new not in _LEGAL[old]:
        raise IllegalTransitionError(f"{old.value} -> {new.value}")


@record
class RespawnPolicy:
    """How long to wait before respawning a crashed process.

    The first ``free_retries`` quick crashes in a row are respawned after ``base_delay`` (uWSGI's
    ~1 s master cycle); after that the delay doubles up to ``max_delay``. A process that stayed up
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


@record(frozen=False, eq=False)
class Slot:
    """The master's view of one process slot: ``kind`` (``"mule"`` or ``"worker"``) and ``number``
    name it (mule N, worker N); a slot outlives its incarnations, each a fork with its own pid."""

    kind: str
    number: int
    state: SlotState = SlotState.STARTING
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
    stop_when_spawned: bool = False  # a stop asked for while the fork was under way
    respawning: bool = False  # the next spawn replaces a crashed incarnation (a worker says so)
    cursed_at: float = 0.0  # when the running incarnation was told to stop (a worker's "buried after")


# -- effects: what the master does for a decision, in the order given ----------------------


@record
class Spawn:
    """Fork the slot's next incarnation."""

    slot: Slot


@record
class Signal:
    """Send ``signum`` to incarnation ``pid``; if ``mercy`` is given and it is still alive that
    many seconds later, ask :meth:`Lifecycle.outlived_mercy`."""

    slot: Slot
    pid: int
    signum: signal.Signals
    mercy: float | None = None


@record
class RetryIn:
    """Call :meth:`Lifecycle.retry_due` for the slot in ``seconds``."""

    slot: Slot
    seconds: float


@record
class CancelRetry:
    """Forget the slot's pending :class:`RetryIn`."""

    slot: Slot


@record
class Publish:
    """Publish ``event`` (a state change, a spawn or exit, a log line, a warning)."""

    event: events.Event


Effect = Spawn | Signal | RetryIn | CancelRetry | Publish


def _log(text: str) -> Publish:
    return Publish(events.MasterLog(text=text))


def _spawned_event(slot: Slot, pid: int) -> events.Event:
    kind = events.WorkerSpawned if slot.kind == "worker" else events.MuleSpawned
    return kind(slot.number, pid, slot.incarnation)


def _died_line(slot: Slot, pid: int, signame: str | None) -> str:
    """uWSGI's line for a process that ended on its own; it is respawned."""
    if slot.kind == "mule":
        return f"OOOPS mule {slot.number} (pid: {pid}) crippled...trying respawn..."
    killed = f", killed by signal {signal.Signals[signame].value}" if signame else ""
    return f"DAMN ! worker {slot.number} (pid: {pid}) died{killed} :( trying respawn ..."


class Lifecycle:
    """Decides every slot's life; each method changes the slots it is given and returns the
    effects the master must carry out, in order.

    ``reload_mercy`` is the grace of a process stopped or restarted one at a time; ``clock`` is
    the monotonic clock that uptimes and retry times are read on.
    """

    def __init__(
        self, policy: RespawnPolicy, reload_mercy: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.policy = policy
        self.reload_mercy = reload_mercy
        self.clock = clock
        self.stopping: signal.Signals | None = None  # the stack is stopping: the signal every process gets

    # -- spawns, exits and timers --------------------------------------------------------

    def spawn(self, slot: Slot) -> list[Effect]:
        """Start the slot's next incarnation (at stack start, on a respawn or a restart)."""
        slot.reload_when_spawned = slot.stop_when_spawned = slot.stop_requested = slot.restart_after_stop = False
        slot.retry_at = None
        return [*self._move(slot, SlotState.STARTING), Spawn(slot)]

    def spawned(self, slot: Slot, pid: int) -> list[Effect]:
        """The incarnation asked for runs as ``pid``."""
        slot.pid = pid
        slot.incarnation += 1
        slot.started_at = self.clock()
        if slot.kind == "mule":
            line = f"spawned uWSGI mule {slot.number} (pid: {pid})"
        elif slot.respawning:
            line = f"Respawned uWSGI worker {slot.number} (new pid: {pid})"
        else:
            line = f"spawned uWSGI worker {slot.number} (pid: {pid}, cores: 1)"
        slot.respawning = False
        effects: list[Effect] = [_log(line), Publish(_spawned_event(slot, pid))]
        if self.stopping is not None:
            effects.append(Signal(slot, pid, self.stopping))  # forked just before the stop began
        elif slot.state is SlotState.STARTING:
            effects += self._move(slot, SlotState.RUNNING)
            if slot.stop_when_spawned:
                effects += self.stop(slot)
            elif slot.reload_when_spawned:
                effects += self.restart(slot)
        return effects

    def exited(self, slot: Slot, pid: int, status: int) -> list[Effect]:
        """Incarnation ``pid`` ended with wait status ``status``: respawn it unless it was stopped."""
        code = os.waitstatus_to_exitcode(status)
        signame = signal.Signals(-code).name if code < 0 else None
        uptime = self.clock() - slot.started_at
        kind = events.WorkerExited if slot.kind == "worker" else events.MuleExited
        expected = slot.stop_requested or self.stopping is not None
        exited = kind(slot.number, pid, None if signame else code, signame, round(uptime, 3), expected)
        slot.last_exit = exited.description
        slot.pid = 0
        effects: list[Effect] = [Publish(exited)]
        if expected and slot.kind == "worker":
            effects.append(_log(self._buried_line(slot)))
        if self.stopping is not None:
            if slot.kind == "mule":
                effects.append(_log(f"mule {slot.number} (pid: {pid}) annihilated"))
            return [*effects, *self._move(slot, SlotState.STOPPED)]
        if expected:
            if not slot.restart_after_stop:
                return [*effects, *self._move(slot, SlotState.STOPPED)]
            slot.respawns += 1
            return [*effects, *self.spawn(slot)]
        effects.append(_log(_died_line(slot, pid, signame)))
        slot.respawning = True
        return effects + self._after_crash(slot, uptime)

    def _buried_line(self, slot: Slot) -> str:
        """uWSGI's ``worker N buried after S seconds`` (whole seconds of the clock, as uWSGI's)."""
        return f"worker {slot.number} buried after {int(self.clock()) - int(slot.cursed_at)} seconds"

    def _after_crash(self, slot: Slot, uptime: float) -> list[Effect]:
        """Respawn a crashed slot: at once after a stable uptime, else after the policy's delay,
        warning once the free retries of a crash loop are spent."""
        slot.respawns += 1
        if uptime >= self.policy.stable_after:
            slot.quick_crashes = 0
            return self.spawn(slot)
        slot.quick_crashes += 1
        delay = self.policy.delay(slot.quick_crashes)
        effects: list[Effect] = []
        if slot.quick_crashes > self.policy.free_retries:
            text = (
                f"{slot.kind} {slot.number} is crashing in a loop ({slot.quick_crashes} quick exits in a row, "
                f"last: {slot.last_exit}): next respawn in {delay:g}s (uWSGI would retry every second)"
            )
            about = {"worker_id" if slot.kind == "worker" else "mule_id": slot.number}
            effects.append(Publish(events.StackWarning(text=text, **about)))
        slot.retry_at = self.clock() + delay
        return [*effects, *self._move(slot, SlotState.BACKOFF), RetryIn(slot, delay)]

    def retry_due(self, slot: Slot) -> list[Effect]:
        """A backing-off slot's delay is over: respawn it."""
        return self.spawn(slot)

    def outlived_mercy(self, slot: Slot, pid: int) -> list[Effect]:
        """Incarnation ``pid`` was given its mercy: SIGKILL it with uWSGI's line, if it still runs."""
        if slot.pid != pid:
            return []
        return [_log(no_mercy_line(slot.kind, slot.number, pid)), Signal(slot, pid, signal.SIGKILL)]

    def root_died(self, slots: Iterable[Slot]) -> list[Effect]:
        """The stack root is gone, and every process with it: nothing can spawn them again."""
        effects: list[Effect] = []
        for slot in slots:
            effects += self._cancel_retry(slot)
            slot.pid = 0
            effects += self._move(slot, SlotState.FATAL)
        return effects

    # -- actions -------------------------------------------------------------------------

    def stop(self, slot: Slot) -> list[Effect]:
        """Stop gracefully (SIGHUP, SIGKILL after the reload mercy); the slot stays down."""
        if slot.state is SlotState.BACKOFF:
            return self._cancel_retry(slot) + self._move(slot, SlotState.STOPPED)
        if slot.state is SlotState.RUNNING:
            return self._terminate(slot)
        if slot.state is SlotState.STARTING:  # its first line may come before news of its fork
            slot.stop_when_spawned, slot.reload_when_spawned = True, False
        return []

    def restart(self, slot: Slot) -> list[Effect]:
        """Restart gracefully, or start now a slot that is down or backing off."""
        if slot.state is SlotState.RUNNING:
            slot.restart_after_stop = True
            return self._terminate(slot)
        if slot.state in (SlotState.STOPPED, SlotState.BACKOFF, SlotState.FATAL):
            effects = self._cancel_retry(slot)
            slot.quick_crashes = 0
            return effects + self.spawn(slot)
        if slot.state is SlotState.STOPPING:
            slot.restart_after_stop = True
        else:  # STARTING: restarted once it runs
            slot.reload_when_spawned, slot.stop_when_spawned = True, False
        return []

    def kill(self, slot: Slot) -> list[Effect]:
        """SIGKILL, as ``kill -9`` would: the exit is a crash, and respawned as one."""
        return [Signal(slot, slot.pid, signal.SIGKILL)] if slot.pid else []

    def reload(self, slots: Iterable[Slot], cause: str = "") -> list[Effect]:
        """uWSGI's mule reload: restart every slot, logging ``CAUSE: reloading mules...`` first."""
        effects: list[Effect] = [_log(f"{cause}: reloading mules...")] if cause else []
        for slot in slots:
            effects += self.restart(slot)
        return effects

    def stop_stack(self, slots: Iterable[Slot], signum: signal.Signals) -> list[Effect]:
        """The stack stops: ``signum`` to every process (the master gives them its mercy), none
        respawned from now on."""
        self.stopping = signum
        effects: list[Effect] = []
        for slot in slots:
            if slot.state is SlotState.BACKOFF:
                effects += self._cancel_retry(slot) + self._move(slot, SlotState.STOPPED)
            elif slot.state in (SlotState.STARTING, SlotState.RUNNING):
                slot.stop_requested = True
                slot.cursed_at = self.clock()
                effects += self._move(slot, SlotState.STOPPING)
                if slot.pid:
                    effects += [*self._graceful_line(slot, signum), Signal(slot, slot.pid, signum)]
        return effects

    def stack_stopped(self, slots: Iterable[Slot]) -> list[Effect]:
        """The stack root is closed: processes not heard of are gone with it, their slots stopped."""
        effects: list[Effect] = []
        for slot in slots:
            if slot.pid:
                gone = self._buried_line(slot) if slot.kind == "worker" else f"mule {slot.number} (pid: {slot.pid}) annihilated"
                effects.append(_log(gone))
                slot.pid = 0
            if slot.state in (SlotState.STARTING, SlotState.RUNNING):
                effects += self._move(slot, SlotState.STOPPING)
            if slot.state is SlotState.STOPPING:
                effects += self._move(slot, SlotState.STOPPED)
        return effects

    # -- helpers -------------------------------------------------------------------------

    def _terminate(self, slot: Slot) -> list[Effect]:
        """SIGHUP the running incarnation, SIGKILL after the reload mercy; its exit is expected."""
        slot.stop_requested = True
        slot.cursed_at = self.clock()
        return [
            *self._move(slot, SlotState.STOPPING),
            *self._graceful_line(slot, signal.SIGHUP),
            Signal(slot, slot.pid, signal.SIGHUP, self.reload_mercy),
        ]

    @staticmethod
    def _graceful_line(slot: Slot, signum: signal.Signals) -> list[Effect]:
        """uWSGI's line for a worker told to finish its request and exit (SIGHUP)."""
        if slot.kind != "worker" or signum is not signal.SIGHUP:
            return []
        return [_log(f"Gracefully killing worker {slot.number} (pid: {slot.pid})...")]

    def _cancel_retry(self, slot: Slot) -> list[Effect]:
        was_waiting = slot.state is SlotState.BACKOFF
        slot.retry_at = None
        return [CancelRetry(slot)] if was_waiting else []

    def _move(self, slot: Slot, new: SlotState) -> list[Effect]:
        """The one way a slot changes state: checked, and published."""
        old = slot.state
        if old is new:
            return []
        check_transition(old, new)
        slot.state = new
        kind = events.WorkerStateChanged if slot.kind == "worker" else events.MuleStateChanged
        return [Publish(kind(slot.number, old.value, new.value, slot.retry_at))]
