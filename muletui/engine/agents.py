"""The master's end of each mule's agent socket (:mod:`muletui.stack.agent`).

One :class:`AgentLink` per mule incarnation: it asks for live stacks and evaluations, carries
the lines typed at a mule's ``(Pdb)`` prompt, and hands what the mule's debugger says to the
master as events. A request to a mule that exits fails with :class:`MuleGoneError`.
:class:`MuleAgents` keeps the links of a stack's mules.
"""

from __future__ import annotations

import asyncio
import itertools
import pickle
import socket
from collections.abc import Callable

from muletui.engine import events
from muletui.engine.reports import DatagramReader
from muletui.ipc.agent_wire import MAX_DATAGRAM, EvalResult, Stop, ThreadStack


class MuleGoneError(Exception):
    """The mule exited (or is not running) before it answered."""


class AgentLink:
    """The master's end of one mule incarnation's agent socket."""

    def __init__(self, mule_id: int, sock: socket.socket, publish: Callable[[events.Event], None]) -> None:
        self.mule_id = mule_id
        self._socket = sock
        self._socket.setblocking(False)
        self._publish = publish
        self._loop = asyncio.get_running_loop()
        self._pending: dict[int, asyncio.Future[object]] = {}
        self._requests = itertools.count(1)
        self.stop: Stop | None = None  # where the mule's debugger waits, if it does
        self._reader = DatagramReader(sock, self._receive, MAX_DATAGRAM)

    def send(self, *message: object) -> bool:
        """One datagram to the mule; ``False`` if it cannot take it (gone, or its buffer full)."""
        if self._socket.fileno() < 0:
            return False
        try:
            self._socket.send(pickle.dumps(message))
        except OSError:
            return False
        return True

    async def stacks(self, timeout: float) -> tuple[ThreadStack, ...]:
        answer = await self._request(timeout, "stacks")
        assert isinstance(answer, tuple)
        return answer

    async def evaluate(self, source: str, timeout: float) -> EvalResult:
        """The evaluation's result; one given up on (a timeout, the caller cancelled) is
        interrupted in the mule."""
        answer = await self._request(timeout, "eval", source)
        assert isinstance(answer, EvalResult)
        return answer

    async def _request(self, timeout: float, kind: str, *args: object) -> object:
        request = next(self._requests)
        future: asyncio.Future[object] = self._loop.create_future()
        self._pending[request] = future
        try:
            if not self.send(kind, request, *args):
                raise MuleGoneError(f"mule {self.mule_id} is not running")
            return await asyncio.wait_for(future, timeout)
        except (TimeoutError, asyncio.CancelledError):
            if kind == "eval":
                self.send("cancel", request)
            raise
        finally:
            self._pending.pop(request, None)

    def _receive(self, data: bytes) -> None:
        try:
            message = pickle.loads(data)
        except Exception:  # noqa: BLE001 - cut short (bigger than a datagram): the request times out
            self._publish(events.StackWarning(text=f"mule {self.mule_id}: an agent answer too big to read was dropped"))
            return
        self._dispatch(message)

    def close(self) -> None:
        """The incarnation ended: fail what waits for it and let go of the socket."""
        self._reader.close()
        self._socket.close()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(MuleGoneError(f"mule {self.mule_id} exited"))
        if self.stop is not None:
            self.stop = None
            self._publish(events.DebuggerResumed(mule_id=self.mule_id))

    def _dispatch(self, message: tuple[object, ...]) -> None:
        kind, *args = message
        if kind == "reply":
            request, payload = args
            future = self._pending.get(request)  # type: ignore[call-overload]
            if future is not None and not future.done():
                future.set_result(payload)
        elif kind == "stopped":
            stop = args[0]
            assert isinstance(stop, Stop)
            self.stop = stop
            self._publish(events.DebuggerStopped(
                mule_id=self.mule_id, file=stop.file, line=stop.line, function=stop.function,
                thread=stop.thread, post_mortem=stop.post_mortem,
            ))
        elif kind == "running":
            self.stop = None
            self._publish(events.DebuggerResumed(mule_id=self.mule_id))
        elif kind == "output":
            self._publish(events.DebuggerOutput(mule_id=self.mule_id, text=str(args[0])))


class MuleAgents:
    """The agent links of a stack's running mules, by mule id: what front ends ask mules."""

    def __init__(self, publish: Callable[[events.Event], None]) -> None:
        self._publish = publish
        self._links: dict[int, AgentLink] = {}
        self._post_mortem: bool | None = None  # set at run time; None: the mules keep --debug-on-crash

    def open(self, mule_id: int) -> socket.socket:
        """A fresh link for mule ``mule_id``'s next incarnation; returns the mule's end, which
        the caller passes to the stack root and closes."""
        self.close(mule_id)
        master_end, mule_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        link = self._links[mule_id] = AgentLink(mule_id, master_end, self._publish)
        if self._post_mortem is not None:  # queued now, applied before the mule's program runs
            link.send("post_mortem", self._post_mortem)
        return mule_end

    def close(self, mule_id: int) -> None:
        link = self._links.pop(mule_id, None)
        if link is not None:
            link.close()

    def close_all(self) -> None:
        for mule_id in list(self._links):
            self.close(mule_id)

    def set_post_mortem(self, on: bool) -> None:
        """Whether an uncaught exception that ends a programmed mule stops it in post-mortem
        debugging first (``--debug-on-crash`` at run time): in every running mule and those
        spawned later (before their program runs). A running mule takes it as its agent reads
        it: one that fails in the same instant may not have. Only mules with a front end that
        debugs stop."""
        self._post_mortem = on
        for link in self._links.values():
            link.send("post_mortem", on)

    def stops(self) -> dict[int, Stop]:
        """Where each mule whose debugger waits at a prompt stopped, by mule id."""
        return {mule_id: link.stop for mule_id, link in self._links.items() if link.stop is not None}

    def stopped_at(self, mule_id: int) -> Stop | None:
        """Where mule ``mule_id``'s debugger waits, if it does."""
        link = self._links.get(mule_id)
        return link.stop if link is not None else None

    def type_line(self, mule_id: int, line: str) -> bool:
        """Give ``line`` to mule ``mule_id``'s ``(Pdb)`` prompt; ``False`` if no prompt waits."""
        link = self._links.get(mule_id)
        return link is not None and link.stop is not None and link.send("input", line)

    async def stacks(self, mule_id: int, timeout: float = 3.0) -> tuple[ThreadStack, ...]:
        """The live stack of every thread of mule ``mule_id``, taken without stopping it."""
        return await self._link(mule_id).stacks(timeout)

    async def evaluate(self, mule_id: int, source: str, timeout: float = 10.0) -> EvalResult:
        """Evaluate ``source`` in mule ``mule_id``'s namespace, while the mule runs on."""
        return await self._link(mule_id).evaluate(source, timeout)

    def _link(self, mule_id: int) -> AgentLink:
        link = self._links.get(mule_id)
        if link is None:
            raise MuleGoneError(f"mule {mule_id} is not running")
        return link
