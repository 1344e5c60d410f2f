"""A mule's agent: a thread that answers the master while the mule's own code runs.

It shows the live stacks of the mule's threads, evaluates a line in the mule's namespace and
carries a debugger's prompt (:mod:`muletui.stack.debugger`) to the console. It is a bare
``_thread`` thread, asleep in ``recv`` until the master writes: it holds no GIL while idle and
is not in ``threading.enumerate()``, which in a mule under uWSGI lists the main thread only.
"""

from __future__ import annotations

import _thread
import os
import pickle
import queue
import socket
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import muletui
from muletui.ipc.agent_wire import MAX_DATAGRAM, EvalResult, StackFrame, Stop, ThreadStack, clip
from muletui.ipc.spec import StackSpec
from muletui.ipc.stats_block import Field
from muletui.stack import context
from muletui.stack.context import log

_PACKAGE_DIR = os.path.dirname(muletui.__file__)
_INTERNAL_FILES = ("<frozen ", "<string>")

current: MuleAgent | None = None  # this mule's agent, once started


class MuleAgent:
    """The mule's end of its agent socket and the thread that serves it."""

    def __init__(self, fd: int, spec: StackSpec, mule_id: int) -> None:
        self._socket = socket.socket(fileno=fd)
        self._spec = spec
        self.mule_id = mule_id
        self.pid = os.getpid()
        self.debugger = spec.debugger  # False: no one to debug on, breakpoints are skipped
        self.post_mortem = spec.debug_on_crash
        self.lines: queue.SimpleQueue[str] = queue.SimpleQueue()  # typed at the (Pdb) prompt
        self._turn = threading.Lock()  # guards the two fields below
        self._holder = ""  # the thread that holds the debugger ("" when none does)
        self._waiting: deque[threading.Event] = deque()  # threads stopped meanwhile, first come first
        self._evaluations: dict[int, int] = {}  # request -> ident of the thread evaluating it
        self._ident = 0

    def start(self) -> None:
        """Serve the master from now on; what it said before the mule ran (a ``post_mortem``
        toggle sent as the link opened) is applied first, before the mule's program can fail."""
        global current
        current = self
        self._socket.setblocking(False)
        try:
            while data := self._socket.recv(MAX_DATAGRAM):
                self._handle(data)
        except OSError:  # BlockingIOError: nothing more queued
            pass
        self._socket.setblocking(True)
        self._ident = _thread.start_new_thread(self._serve, ())

    def send(self, *message: object) -> None:
        """One datagram to the master; lost quietly if the master is gone (the mule then dies)."""
        try:
            self._socket.send(pickle.dumps(message))
        except OSError:
            pass

    @contextmanager
    def debugger_turn(self, stop: Stop) -> Iterator[None]:
        """Hold the debugger for the calling thread, stopped at ``stop``, and tell the master.

        Threads that stop while another holds it get it in the order they stopped: the holder
        hands it over as it leaves, so one that hits its breakpoint again queues behind them."""
        with self._turn:
            holder, ticket = self._holder, threading.Event()
            if holder:
                self._waiting.append(ticket)
            else:
                self._holder = stop.thread
        if holder:
            log(f"mule {self.mule_id}: thread {stop.thread} waits at {stop.where}: thread {holder} holds the debugger")
            ticket.wait()
            self._holder = stop.thread
        while not self.lines.empty():  # typed before this stop: not meant for it
            self.lines.get_nowait()
        self.send("stopped", stop)
        stopped = time.monotonic_ns()
        try:
            yield
        finally:
            _extend_harakiri(time.monotonic_ns() - stopped)  # before the master sees it run again
            self.send("running")
            with self._turn:
                if self._waiting:
                    self._waiting.popleft().set()
                else:
                    self._holder = ""

    def _serve(self) -> None:
        while True:
            try:
                data = self._socket.recv(MAX_DATAGRAM)
            except OSError:
                data = b""
            if not data:  # the master is gone: a waiting prompt reads end of file
                self.lines.put("")
                return
            self._handle(data)

    def _handle(self, data: bytes) -> None:
        kind, *args = pickle.loads(data)
        if kind == "input":
            self.lines.put(args[0] + "\n")
        elif kind == "stacks":
            self.send("reply", args[0], _fitting(self.stacks()))
        elif kind == "eval":
            # Its own thread: a slow expression must not hold up the next request.
            _thread.start_new_thread(self._evaluate, (args[0], args[1]))
        elif kind == "cancel":
            self._cancel(args[0])
        elif kind == "post_mortem":
            self.post_mortem = bool(args[0])

    def stacks(self) -> tuple[ThreadStack, ...]:
        """Every thread of the mule with a Python frame, the main thread first; not the agent's."""
        names = {thread.ident: thread.name for thread in threading.enumerate()}
        main = threading.main_thread().ident
        found = []
        for ident, frame in sys._current_frames().items():
            if ident == self._ident or ident == threading.get_ident():
                continue
            name = "MainThread" if ident == main else names.get(ident, f"<thread {ident}>")
            found.append(ThreadStack(name, ident == main, _frames(frame)))
        found.sort(key=lambda stack: not stack.main)
        return tuple(found)

    def _evaluate(self, request: int, source: str) -> None:
        with self._turn:
            self._evaluations[request] = threading.get_ident()
        try:
            result = evaluate(source, self.namespace())
        finally:
            with self._turn:
                del self._evaluations[request]
        self.send("reply", request, result)

    def _cancel(self, request: int) -> None:
        """Interrupt an evaluation the master gave up on: ``KeyboardInterrupt`` at its next
        bytecode (work in C that holds the GIL cannot be interrupted, and blocks the mule)."""
        with self._turn:
            ident = self._evaluations.get(request)
            if ident is not None:
                import ctypes  # noqa: PLC0415 - only when an evaluation is given up on

                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(KeyboardInterrupt))

    def namespace(self) -> dict[str, object]:
        """Where a typed line runs: the script's ``__main__``, else the app's module, else ``__main__``."""
        main = sys.modules.get("__main__")
        mule = next((m for m in self._spec.mules if m.mule_id == self.mule_id), None)
        if mule is not None and mule.mode == "callable":
            module = sys.modules.get((mule.program or "").partition(":")[0])
            if module is not None:
                return module.__dict__
        if mule is not None and mule.mode == "signal":
            app = _app_module(self._spec)
            if app is not None:
                return app
        return main.__dict__ if main is not None else {}


def _extend_harakiri(nanoseconds: int) -> None:
    """Push this mule's armed harakiri deadlines back by the time its debugger waited: the
    master's watchdog spares a mule at its prompt, and the clock must not run meanwhile. The mule
    writes them itself, as it writes all of its record: a master writing them could race the
    handler that clears its deadline as it ends."""
    if context.current is None:
        return
    words = context.current.stats.words
    for field in (Field.HARAKIRI_AT, Field.USER_HARAKIRI_AT):
        index = context.current.index(field)
        deadline = words[index]
        if deadline:
            words[index] = deadline + nanoseconds


def _app_module(spec: StackSpec) -> dict[str, object] | None:
    from muletui.stack.root import _module_name_for_file as module_name_for_file  # noqa: PLC0415 - root imports this module

    for kind, value in reversed(spec.app):
        name = module_name_for_file(value) if kind == "file" else value.partition(":")[0]
        if kind != "import" and name in sys.modules:
            return sys.modules[name].__dict__
    return None


def _fitting(stacks: tuple[ThreadStack, ...]) -> tuple[ThreadStack, ...]:
    """``stacks`` cut until one datagram holds them: the outermost frames first (a deep
    recursion), then, one frame a thread being still too much, the last threads (a mule with
    thousands), with a last entry that says how many were left out."""
    depth = max((len(stack.frames) for stack in stacks), default=0)
    while depth > 1 and _too_big(stacks):
        depth //= 2
        stacks = tuple(ThreadStack(s.name, s.main, s.frames[-depth:]) for s in stacks)
    every, kept = stacks, len(stacks)
    while kept > 1 and _too_big(stacks):
        kept //= 2
        stacks = (*every[:kept], ThreadStack(f"({len(every) - kept} more threads not shown)", False, ()))
    return stacks


def _too_big(stacks: tuple[ThreadStack, ...]) -> bool:
    return len(pickle.dumps(stacks)) > MAX_DATAGRAM - 1024


def _frames(frame: FrameType) -> tuple[StackFrame, ...]:
    summaries = traceback.extract_stack(frame)
    return tuple(
        StackFrame(s.filename, s.lineno or 0, s.name, s.line or "", _is_internal(s.filename)) for s in summaries
    )


def _is_internal(filename: str) -> bool:
    return filename.startswith(_PACKAGE_DIR) or filename.startswith(_INTERNAL_FILES)


def evaluate(source: str, namespace: dict[str, object]) -> EvalResult:
    """Evaluate an expression (its repr) or run a statement (``ok``) in ``namespace``."""
    try:
        try:
            code = compile(source, "<prompt>", "eval")
        except SyntaxError:
            code = compile(source, "<prompt>", "exec")
            exec(code, namespace)  # noqa: S102 - the console's user typed it, in their own stack
            return EvalResult(True, "")
        return EvalResult(True, clip(repr(eval(code, namespace))))
    except BaseException as error:  # noqa: BLE001 - anything typed may raise anything
        frames = [tb for tb in traceback.extract_tb(error.__traceback__) if not _is_internal(tb.filename)]
        text = "".join(traceback.format_list(frames)) if len(frames) > 1 else ""
        return EvalResult(False, clip(text + "".join(traceback.format_exception_only(error)).rstrip()))
