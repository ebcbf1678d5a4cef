"""Delivery of link events to subscribers through bounded queues."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from firmware_bridge.constants import EVENT_QUEUE_MAX_ITEMS
from firmware_bridge.messages import ControllerReplaced, LinkStateChange
from firmware_bridge.telemetry import BootEvent, FaultEvent, Telemetry

LinkEvent = Telemetry | FaultEvent | BootEvent | ControllerReplaced | LinkStateChange
"""Everything a subscriber receives, in arrival order."""


class EventSubscription:
    """An async iterator over link events.

    The queue is bounded: when the subscriber falls behind, the oldest event is dropped and
    ``on_drop`` is called, so a stalled consumer never grows memory or stalls the link.
    The iteration ends when the subscription is closed (by :meth:`close` or the link stopping).
    """

    def __init__(self, on_drop: Callable[[], None], maxsize: int = EVENT_QUEUE_MAX_ITEMS) -> None:
        self._queue: asyncio.Queue[LinkEvent | None] = asyncio.Queue(maxsize)
        self._on_drop = on_drop
        self._closed = False

    def put(self, event: LinkEvent) -> None:
        """Deliver ``event`` (called by the link)."""
        if self._closed:
            return
        if self._queue.full():
            self._queue.get_nowait()
            self._on_drop()
        self._queue.put_nowait(event)

    def close(self) -> None:
        """End the iteration once queued events are consumed."""
        if self._closed:
            return
        self._closed = True
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(None)

    async def get(self) -> LinkEvent:
        """The next event; raises ``StopAsyncIteration`` once closed and drained."""
        event = await self._queue.get()
        if event is None:
            self._queue.put_nowait(None)
            raise StopAsyncIteration
        return event

    def __aiter__(self) -> EventSubscription:
        return self

    async def __anext__(self) -> LinkEvent:
        return await self.get()
