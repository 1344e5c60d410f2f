"""The engine's typed event stream: one frozen record per kind (:mod:`muletui.record`: a frozen
dataclass's API, without its cost at import), each stamped at creation.

``t`` is ``time.monotonic()`` when the event happened (for output lines: when the bytes were
read). ``kind`` is the stable name used in ``--events`` JSON Lines.
"""

from __future__ import annotations

import time
from typing import ClassVar

from muletui.record import field, fields, record


def _wall_now() -> float:
    """``time.time()``, looked up at each call (so a test can freeze the wall clock)."""
    return time.time()


@record
class Event:
    """Base class; subclasses set ``kind``."""

    kind: ClassVar[str] = "event"
    t: float = field(default_factory=time.monotonic, kw_only=True)

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready view: ``kind``, ``t`` and every field."""
        data: dict[str, object] = {"kind": self.kind, "t": round(self.t, 6)}
        for f in fields(self):
            if f.name != "t":
                data[f.name] = getattr(self, f.name)
        return data


@record
class StackStarting(Event):
    kind: ClassVar[str] = "stack_starting"
    mules: int
    farms: tuple[str, ...]


@record
class StackReady(Event):
    """The app was imported in the stack root; mules are being forked."""

    kind: ClassVar[str] = "stack_ready"
    root_pid: int


@record
class StackFailed(Event):
    """The stack could not start (app import error, root died); ``reason`` is one line."""

    kind: ClassVar[str] = "stack_failed"
    reason: str


@record
class StackStopped(Event):
    """Shutdown finished; ``left_queued`` maps a queue name to (messages, bytes) left unread."""

    kind: ClassVar[str] = "stack_stopped"
    left_queued: dict[str, tuple[int, int]]


@record
class MasterLog(Event):
    """A line the master writes to the uWSGI log (uWSGI's own wording where it has one)."""

    kind: ClassVar[str] = "master_log"
    text: str
    wall: float = field(default_factory=_wall_now, kw_only=True)  # epoch seconds, as output lines have


@record
class StackWarning(Event):
    """Something the user should know: a uWSGI trap avoided, a drop, a throttled respawn.

    A warning is muletui's own voice (the master's), whatever it is about: every front end
    shows it as a master line. ``mule_id`` is the mule it is about (0: the stack as a whole).
    """

    kind: ClassVar[str] = "warning"
    text: str
    mule_id: int = 0
    worker_id: int = 0  # the worker it is about
    wall: float = field(default_factory=_wall_now, kw_only=True)  # epoch seconds, as output lines have


@record
class MuleSpawned(Event):
    kind: ClassVar[str] = "mule_spawned"
    mule_id: int
    pid: int
    incarnation: int


class ProcessExited(Event):
    """What :class:`MuleExited` and :class:`WorkerExited` share: ``code`` or ``signal``."""

    code: int | None
    signal: str | None

    @property
    def description(self) -> str:
        """``exit 3`` or ``killed by SIGKILL``."""
        return f"killed by {self.signal}" if self.signal else f"exit {self.code}"


@record
class MuleExited(ProcessExited):
    """A mule process ended: ``code`` for an exit, ``signal`` (e.g. ``SIGKILL``) for a kill."""

    kind: ClassVar[str] = "mule_exited"
    mule_id: int
    pid: int
    code: int | None
    signal: str | None
    uptime: float
    expected: bool  # an operator stop, reload or shutdown, not a crash


@record
class MuleStateChanged(Event):
    """A lifecycle transition; ``retry_at`` is the monotonic time of the next spawn in BACKOFF."""

    kind: ClassVar[str] = "mule_state"
    mule_id: int
    old: str
    new: str
    retry_at: float | None = None


@record
class WorkerSpawned(Event):
    kind: ClassVar[str] = "worker_spawned"
    worker_id: int
    pid: int
    incarnation: int


@record
class WorkerExited(ProcessExited):
    """A worker process ended (as :class:`MuleExited`)."""

    kind: ClassVar[str] = "worker_exited"
    worker_id: int
    pid: int
    code: int | None
    signal: str | None
    uptime: float
    expected: bool


@record
class WorkerStateChanged(Event):
    """A worker's lifecycle transition (as :class:`MuleStateChanged`)."""

    kind: ClassVar[str] = "worker_state"
    worker_id: int
    old: str
    new: str
    retry_at: float | None = None


@record
class OutputLine:
    """One captured line; ``t`` monotonic, ``wall`` epoch seconds, both taken at capture."""

    t: float
    wall: float
    text: str


@record
class OutputLines(Event):
    """Lines read in one go from one stream of one process (mule id, or 0 for the stack root)."""

    kind: ClassVar[str] = "output"
    mule_id: int
    stream: str  # "out" or "err"
    lines: tuple[OutputLine, ...]
    worker_id: int = 0  # a worker's (its mule_id or sender is then 0)

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "t": round(self.t, 6),
            "mule_id": self.mule_id,
            "stream": self.stream,
            "lines": len(self.lines),
            "bytes": sum(len(line.text) for line in self.lines),
            "worker_id": self.worker_id,
        }


@record
class MessageSent(Event):
    """A mule_msg was queued; ``sender`` is a mule id, 0 for the stack root, -1 for the master."""

    kind: ClassVar[str] = "message_sent"
    sender: int
    target: int | str  # mule id, 0 for the shared queue, or a farm name
    size: int
    preview: str
    worker_id: int = 0  # a worker's (its mule_id or sender is then 0)


@record
class MessageDropped(Event):
    """A mule_msg returned False: ``reason`` is ``queue full``, ``too large`` or ``bad mule id``."""

    kind: ClassVar[str] = "message_dropped"
    sender: int
    target: int | str
    size: int
    reason: str
    worker_id: int = 0  # a worker's (its mule_id or sender is then 0)


@record
class MessageReceived(Event):
    """A mule read a message from ``queue`` (``own``, ``shared`` or a farm name)."""

    kind: ClassVar[str] = "message_received"
    mule_id: int
    queue: str
    size: int
    preview: str
    maybe_truncated: bool
    swallowed: bool = False  # read by a signal-mode mule without mule_msg_hook, which drops it
    mulefunc: str = ""  # a uwsgidecorators @mulefunc call: the function it names


@record
class MessageHookRaised(Event):
    """The ``mule_msg_hook`` of signal-mode mule ``mule_id`` raised ``error`` (an exception's
    name, e.g. ``UnpicklingError``) on a message it read from ``queue``; the message is gone."""

    kind: ClassVar[str] = "message_hook_raised"
    mule_id: int
    queue: str
    size: int
    preview: str
    error: str
    mulefunc: str = ""


@record
class SignalRegistered(Event):
    kind: ClassVar[str] = "signal_registered"
    signum: int
    target: str
    handler: str
    site: str = ""  # file:line of the registering call


@record
class SignalRaised(Event):
    """A signal entered the master: ``source`` is ``mule N``, ``master``, ``console`` or a timer kind."""

    kind: ClassVar[str] = "signal_raised"
    signum: int
    source: str


@record
class SignalRouted(Event):
    """The master wrote the signal byte into ``destinations`` (``mule 2``, ``a mule``, ``farm 0 (f)``)."""

    kind: ClassVar[str] = "signal_routed"
    signum: int
    target: str
    destinations: tuple[str, ...]


@record
class SignalDropped(Event):
    """The signal reached nobody at ``destination``: a full socket, or no receiver at all."""

    kind: ClassVar[str] = "signal_dropped"
    signum: int
    target: str
    destination: str
    reason: str


@record
class SignalHandled(Event):
    """A handler ran in mule ``mule_id`` (``ok`` False: it raised, or there was none)."""

    kind: ClassVar[str] = "signal_handled"
    signum: int
    mule_id: int
    duration: float
    ok: bool
    worker_id: int = 0  # a worker's (its mule_id or sender is then 0)


@record
class TimerAdded(Event):
    """A timer, rb timer, cron entry or file monitor was activated; ``spec`` says its schedule."""

    kind: ClassVar[str] = "timer_added"
    timer_kind: str  # "timer", "rb_timer", "cron", "file_monitor"
    index: int
    signum: int
    spec: str


@record
class TimerFired(Event):
    """A timer, rb timer, cron entry or file monitor raised its signal (``fires`` so far)."""

    kind: ClassVar[str] = "timer_fired"
    timer_kind: str
    index: int
    signum: int
    fires: int
    changes: tuple[str, ...] = ()  # file monitors: the batch of changes ("modified a.txt")


@record
class LockOperation(Event):
    """A user lock was waited for, acquired or released by a thread of ``mule_id`` (0: the root)."""

    kind: ClassVar[str] = "lock"
    lock: int
    mule_id: int
    operation: str
    thread: int
    worker_id: int = 0  # a worker's (its mule_id or sender is then 0)


@record
class DebuggerStopped(Event):
    """A mule's debugger waits at its ``(Pdb)`` prompt in ``file:line`` (``post_mortem``: after an
    uncaught exception); the mule does nothing else until it is told to go on."""

    kind: ClassVar[str] = "debugger_stopped"
    mule_id: int
    file: str
    line: int
    function: str
    thread: str
    post_mortem: bool = False


@record
class DebuggerResumed(Event):
    """A mule's debugger left its prompt (``c``, ``n``…, or the mule exited)."""

    kind: ClassVar[str] = "debugger_resumed"
    mule_id: int


@record
class DebuggerOutput(Event):
    """What a mule's debugger printed (its prompt included), for the mule's debugger pane."""

    kind: ClassVar[str] = "debugger_output"
    mule_id: int
    text: str
