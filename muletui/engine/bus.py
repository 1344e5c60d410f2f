"""The event bus: one publisher (the master), any number of consumers.

Two kinds of consumer. A *sink* is a plain callable run inline by :meth:`EventBus.publish`; it
must be quick and never block (buffered file writers). A *subscription* is a bounded queue read
by its own task; when it is full, events are dropped and counted, so a slow consumer can never
stall the master.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from muletui.engine.events import Event

Sink = Callable[[Event], None]


class Subscription:
    """A bounded FIFO of events for one consumer task."""

    def __init__(self, bus: EventBus, capacity: int, kinds: tuple[type[Event], ...] | None) -> None:
        self._bus = bus
        self.kinds = kinds  # None: every event
        self._queue: deque[Event] = deque()
        self._capacity = capacity
        self._wakeup = asyncio.Event()
        self.dropped = 0
        self.closed = False

    def _offer(self, event: Event) -> None:
        if len(self._queue) >= self._capacity:
            self.dropped += 1
            return
        self._queue.append(event)
        self._wakeup.set()

    async def batch(self) -> list[Event]:
        """Wait for events and return all that are queued; ``[]`` once closed and drained."""
        while not self._queue:
            if self.closed:
                return []
            self._wakeup.clear()
            await self._wakeup.wait()
        events = list(self._queue)
        self._queue.clear()
        return events

    def close(self) -> None:
        """Stop receiving; a waiting :meth:`batch` returns what is left, then ``[]``."""
        self.closed = True
        self._bus._unsubscribe(self)
        self._wakeup.set()


class EventBus:
    """Fan-out of engine events to sinks and subscriptions, in publication order."""

    def __init__(self) -> None:
        self._sinks: list[Sink] = []
        self._subscriptions: list[Subscription] = []

    def add_sink(self, sink: Sink) -> None:
        self._sinks.append(sink)

    def subscribe(self, capacity: int = 100_000, kinds: tuple[type[Event], ...] | None = None) -> Subscription:
        """A bounded queue of the events of ``kinds`` (all if ``None``): a consumer that needs few
        kinds should say so, so the others never wake its task."""
        subscription = Subscription(self, capacity, kinds)
        self._subscriptions.append(subscription)
        return subscription

    def _unsubscribe(self, subscription: Subscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)

    def publish(self, event: Event) -> None:
        for sink in self._sinks:
            sink(event)
        for subscription in self._subscriptions:
            if subscription.kinds is None or isinstance(event, subscription.kinds):
                subscription._offer(event)

    def close(self) -> None:
        """End every subscription (after the stack stopped)."""
        for subscription in list(self._subscriptions):
            subscription.close()
