"""Live sockets that are open but not signed in yet: capped per client address and overall.

A socket is *pending* from its upgrade until its first message arrives (or it is closed). Pending
sockets do not count toward the signed-in cap (`LIVE_MAX_CLIENTS`), so sockets that never send a token
cannot lock a valid viewer out. Two caps bound them:

* per address: a further socket from an address that already has `per_address` pending is refused;
* overall: at `total`, a new socket evicts the pending socket that has waited longest. Refusing the new
  one instead would let a slow flood from rotating addresses hold every slot for the auth timeout;
  evicting the oldest means an attacker must outpace a page's single round trip, forever.

Pure bookkeeping (no I/O): the live hub refuses, counts and closes.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any, Literal

EvictionCause = Literal["crowded", "stopping"]


class Pending:
    """One pending socket: its address, and how its wait for the first message can be cut short."""

    __slots__ = ("_waiter", "address", "evicted")

    def __init__(self, address: str) -> None:
        self.address = address
        self.evicted: EvictionCause | None = None
        self._waiter: asyncio.Future[Any] | None = None

    def waiting_on(self, waiter: asyncio.Future[Any]) -> None:
        """The future (the first message's read) to cancel when this socket is evicted."""
        self._waiter = waiter
        if self.evicted is not None:
            waiter.cancel()

    def evict(self, cause: EvictionCause) -> None:
        if self.evicted is None:
            self.evicted = cause
        if self._waiter is not None:
            self._waiter.cancel()


class PendingSockets:
    """The pending sockets, oldest first, with a count per address (addresses with none are dropped)."""

    def __init__(self, *, per_address: int, total: int) -> None:
        if per_address < 1 or total < 1:
            raise ValueError("the caps of pending sockets must be >= 1")
        self._per_address = per_address
        self._total = total
        self._order: OrderedDict[Pending, None] = OrderedDict()  # oldest first
        self._by_address: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._order)

    def at_address(self, address: str) -> int:
        return self._by_address.get(address, 0)

    def addresses(self) -> int:
        return len(self._by_address)

    def admit(self, address: str) -> tuple[Pending | None, Pending | None]:
        """(the new socket's entry, or None when its address is at its cap; the entry evicted to make room)."""
        if self._by_address.get(address, 0) >= self._per_address:
            return None, None
        evicted = None
        if len(self._order) >= self._total:
            evicted, _ = self._order.popitem(last=False)
            self._forget(evicted.address)
            evicted.evict("crowded")
        entry = Pending(address)
        self._order[entry] = None
        self._by_address[address] = self._by_address.get(address, 0) + 1
        return entry, evicted

    def release(self, entry: Pending) -> None:
        """The socket's first message arrived or it closed; idempotent (an evicted entry is already gone)."""
        if self._order.pop(entry, False) is None:
            self._forget(entry.address)

    def evict_all(self, cause: EvictionCause) -> None:
        for entry in list(self._order):
            self.release(entry)
            entry.evict(cause)

    def _forget(self, address: str) -> None:
        left = self._by_address[address] - 1
        if left:
            self._by_address[address] = left
        else:
            del self._by_address[address]
