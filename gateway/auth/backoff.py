"""Back-off for client addresses that fail authentication repeatedly (pure; injected monotonic clock).

Semantics, per address:

* Failures are counted in a sliding window of ``window_s``. The ``limit``-th failure within the window
  starts a block of ``initial_block_s`` and raises the address's *level* to 1; so with the defaults the
  6th attempt within 60 s is refused (429 with ``Retry-After``).
* While an address is blocked the caller refuses its requests without evaluating credentials and
  does not record them. Once a block has ended, the address stays *hot* while its level is above 0:
  every further failure immediately starts a new block of ``initial_block_s * 2**level`` (capped at
  ``max_block_s``) and raises the level by one.
* The level steps down by one for every ``decay_s`` of quiet time, counted from the later of the last
  failure and the end of the last block. At level 0 the address is back to normal (``limit`` failures
  in the window before a block) and, with no failures in the window, it is forgotten.
* ``record_success`` does not clear a block, the level or the failures in the window: an attacker
  holding one valid token must not be able to reset the counter between guesses. A legitimate client
  recovers through the decay.

Memory is bounded: at most ``max_tracked`` addresses are kept; when a new address arrives at the bound,
forgotten-worthy entries at the least-recently-active end are dropped first, then the least recently
active address is evicted.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from gateway.auth.const import (
    BACKOFF_DECAY_S,
    BACKOFF_INITIAL_S,
    BACKOFF_MAX_S,
    BACKOFF_MAX_TRACKED_ADDRESSES,
    FAILED_AUTH_LIMIT,
    FAILED_AUTH_WINDOW_S,
    Clock,
)

__all__ = ["FailedAuthTracker"]


@dataclass
class _AddressState:
    """What is known about one client address."""

    failures: deque[float] = field(default_factory=deque)  # times of failures inside the window
    level: int = 0  # number of doublings earned; 0 = not hot
    blocked_until: float = 0.0
    quiet_since: float = 0.0  # decay is counted from here
    refused_block: float = 0.0  # `blocked_until` of the block whose first refusal was reported


class FailedAuthTracker:
    """Counts failed authentications per client address and decides blocks (see module docstring)."""

    def __init__(
        self,
        clock: Clock,
        *,
        limit: int = FAILED_AUTH_LIMIT,
        window_s: float = FAILED_AUTH_WINDOW_S,
        initial_block_s: float = BACKOFF_INITIAL_S,
        max_block_s: float = BACKOFF_MAX_S,
        decay_s: float = BACKOFF_DECAY_S,
        max_tracked: int = BACKOFF_MAX_TRACKED_ADDRESSES,
    ) -> None:
        """``clock`` must be monotonic (``time.monotonic``); durations are in seconds."""
        if limit < 1:
            raise ValueError("limit must be >= 1")
        if max_tracked < 1:
            raise ValueError("max_tracked must be >= 1")
        for name, value in (
            ("window_s", window_s),
            ("initial_block_s", initial_block_s),
            ("max_block_s", max_block_s),
            ("decay_s", decay_s),
        ):
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be a positive number of seconds")
        if max_block_s < initial_block_s:
            raise ValueError("max_block_s must be >= initial_block_s")
        self._clock = clock
        self._limit = limit
        self._window_s = window_s
        self._initial_block_s = initial_block_s
        self._max_block_s = max_block_s
        self._decay_s = decay_s
        self._max_tracked = max_tracked
        # The level whose block first reaches the cap; higher levels would change nothing.
        self._max_level = max(1, math.ceil(math.log2(max_block_s / initial_block_s)))
        self._addresses: OrderedDict[str, _AddressState] = OrderedDict()  # least recently active first

    def retry_after(self, addr: str) -> float:
        """Seconds until ``addr`` may try again; 0 if it is not blocked."""
        state = self._addresses.get(addr)
        if state is None:
            return 0.0
        return max(0.0, state.blocked_until - self._clock())

    def record_failure(self, addr: str) -> float:
        """Record one failed authentication from ``addr``; returns the block now in force (0 if none).

        Callers refuse blocked addresses before evaluating credentials; a failure recorded while the
        address is blocked anyway changes nothing and returns the time left.
        """
        now = self._clock()
        state = self._addresses.get(addr)
        if state is None:
            self._make_room(now)
            state = self._addresses[addr] = _AddressState()
        else:
            self._addresses.move_to_end(addr)
            if now < state.blocked_until:
                return state.blocked_until - now
            self._decay(state, now)
        self._expire_failures(state, now)
        state.failures.append(now)
        state.quiet_since = now
        if state.level > 0 or len(state.failures) >= self._limit:
            block_s = min(self._initial_block_s * 2 ** min(state.level, self._max_level), self._max_block_s)
            state.level = min(state.level + 1, self._max_level)
            state.blocked_until = now + block_s
            state.quiet_since = state.blocked_until
            state.failures.clear()
            return block_s
        return 0.0

    def first_refusal_of_block(self, addr: str) -> bool:
        """True once per block of ``addr``: the refusal to report (audit); later ones are only counted."""
        state = self._addresses.get(addr)
        if state is None or state.refused_block == state.blocked_until:
            return False
        state.refused_block = state.blocked_until
        return True

    def record_success(self, addr: str) -> None:
        """Note a successful authentication. Deliberately changes nothing (see module docstring)."""

    def blocked_addresses(self) -> int:
        """Number of addresses blocked right now (for metrics)."""
        now = self._clock()
        return sum(1 for state in self._addresses.values() if state.blocked_until > now)

    def tracked_addresses(self) -> int:
        """Number of addresses currently remembered (bounded by ``max_tracked``)."""
        return len(self._addresses)

    def prune(self) -> int:
        """Forget every address with nothing left to remember; returns how many were dropped."""
        now = self._clock()
        stale = [addr for addr, state in self._addresses.items() if self._is_stale(state, now)]
        for addr in stale:
            del self._addresses[addr]
        return len(stale)

    # --- internals ---------------------------------------------------------------------------------
    def _decay(self, state: _AddressState, now: float) -> None:
        """Step the level down once per full ``decay_s`` of quiet time."""
        if state.level > 0 and now > state.quiet_since:
            steps = int((now - state.quiet_since) // self._decay_s)
            if steps:
                state.level = max(0, state.level - steps)
                state.quiet_since += steps * self._decay_s

    def _expire_failures(self, state: _AddressState, now: float) -> None:
        while state.failures and state.failures[0] <= now - self._window_s:
            state.failures.popleft()

    def _is_stale(self, state: _AddressState, now: float) -> bool:
        """Whether forgetting this address changes no future decision."""
        if now < state.blocked_until:
            return False
        self._decay(state, now)
        self._expire_failures(state, now)
        return state.level == 0 and not state.failures

    def _make_room(self, now: float) -> None:
        """Keep the table within ``max_tracked`` before a new address is added."""
        while len(self._addresses) >= self._max_tracked:
            oldest_addr, oldest = next(iter(self._addresses.items()))
            if not self._is_stale(oldest, now):
                break
            del self._addresses[oldest_addr]
        while len(self._addresses) >= self._max_tracked:
            self._addresses.popitem(last=False)
