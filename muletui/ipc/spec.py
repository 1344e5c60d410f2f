"""What the master tells the stack root at start: the whole stack, with the descriptors it inherits.

Sent once, pickled, over the control socket (both ends are muletui's own processes).
"""

from __future__ import annotations

from muletui.record import field, record

#: Byte of the lock memfd that guards the 64-entry timer/cron/monitor counters (an OFD record
#: lock), so the file is this long plus one; the user locks' mutexes are at its start.
TABLE_LOCK_OFFSET = 1 << 20


@record
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


@record
class SocketSpec:
    """A listening socket the master binds: ``protocol`` ``http`` (``--http-socket``) or ``uwsgi``
    (``--socket``), ``address`` as given (``host:port``, ``:port``, a unix path or ``@abstract``)."""

    protocol: str
    address: str


@record
class FarmSpec:
    """A farm: its 1-based index in ``--farm`` order, its name and its members."""

    index: int
    name: str
    members: tuple[int, ...]


@record
class ChannelFds:
    """The two ends of one channel (a socket pair): writers use ``send``, readers ``recv``."""

    send: int
    recv: int


@record
class StackSpec:
    """Everything a stack process needs to play its part."""

    mules: tuple[MuleSpec, ...]
    farms: tuple[FarmSpec, ...]
    mule_queues: dict[int, ChannelFds]
    shared_queue: ChannelFds
    farm_queues: dict[int, ChannelFds]  # by farm index
    mule_signals: dict[int, ChannelFds]  # SOCK_STREAM, one byte per signal
    shared_signal: ChannelFds
    farm_signals: dict[int, ChannelFds]
    raise_fd: int  # SOCK_SEQPACKET end stack processes raise signals into: (slot, signum)
    report_fd: int  # SOCK_SEQPACKET end every stack process writes reports into
    stats_fd: int
    lock_fd: int  # a memfd that starts with the user locks' mutexes (stack/robust_mutex.py)
    locks: int  # --locks N: locks 0..N exist
    masterpid: int
    started_on: int
    numproc: int
    opt: dict[str, bytes | bool]
    app: tuple[tuple[str, str], ...] = ()  # ("file" | "module" | "import", value) in load order
    pythonpath: tuple[str, ...] = ()
    report_rate: int = 10_000  # per-message reports allowed per second and process
    mule_harakiri: int = 0  # --mule-harakiri: seconds a signal handler may run in a mule
    debugger: bool = False  # someone can take a mule's (Pdb) prompt: the console, or a terminal
    debug_on_crash: bool = False  # --debug-on-crash: a mule's uncaught exception opens post-mortem
    workers: int = 0  # workers 1..N, forked once the app is imported
    worker_signals: dict[int, ChannelFds] = field(default_factory=dict)  # SOCK_STREAM, one byte per signal
    shared_worker_signal: ChannelFds | None = None  # '' / worker / worker0: the first worker to read
    listeners: tuple[tuple[str, int], ...] = ()  # (protocol, listening fd): every worker accepts on each

    @property
    def slots(self) -> int:
        """Stack process records: the root (0), mules 1..M, then workers (M+1..M+N)."""
        return 1 + len(self.mules) + self.workers
