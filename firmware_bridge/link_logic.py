"""Pure bookkeeping of the host link: SEQ, retries, gaps, watchdogs, back-off. No I/O, no clock.

Every method that depends on time takes ``now`` (monotonic seconds) from the caller.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

from firmware_bridge.constants import (
    HEARTBEAT_HOST_DIVISOR,
    MAX_RETRIES,
    RECONNECT_BACKOFF_MAX_MS,
    RECONNECT_BACKOFF_MIN_MS,
    REPLY_TIMEOUT_MS,
    SEQ_MIN,
    TEL_COUNTER_MODULO,
    TEL_LOST_PERIODS,
)
from firmware_bridge.frame import next_seq
from firmware_bridge.messages import LinkState
from firmware_bridge.telemetry import Fault, SensorFailure, Telemetry


@dataclass(slots=True)
class SeqCounter:
    """Hands out request SEQs: 1, 2, ... 65535, 1, ..."""

    last: int = 0

    def next(self) -> int:
        """The SEQ for a new request."""
        self.last = SEQ_MIN if self.last == 0 else next_seq(self.last)
        return self.last


class RetryAction(enum.Enum):
    """What to do with an unanswered request."""

    WAIT = "wait"
    RESEND = "resend"
    GIVE_UP = "give_up"


@dataclass(slots=True)
class RetrySchedule:
    """Retry bookkeeping of one request: resend after ``timeout_s`` up to ``max_retries`` times."""

    timeout_s: float = REPLY_TIMEOUT_MS / 1000
    max_retries: int = MAX_RETRIES
    attempts: int = 0
    """Sends so far (first send included)."""
    deadline: float = math.inf

    def sent(self, now: float) -> None:
        """Record a send (first or retry) at ``now``."""
        self.attempts += 1
        self.deadline = now + self.timeout_s

    def action(self, now: float) -> RetryAction:
        """Decide what an unanswered request needs at ``now``."""
        if now < self.deadline:
            return RetryAction.WAIT
        if self.attempts <= self.max_retries:
            return RetryAction.RESEND
        return RetryAction.GIVE_UP


@dataclass(slots=True)
class GapCounter:
    """Counts ``TEL`` frames missing from the ``n`` sequence (0..65535, wrapping)."""

    last_n: int | None = None
    gaps: int = 0
    """Frames missed so far."""
    out_of_order: int = 0
    """Frames whose ``n`` was a repeat or went backwards (not counted as gaps)."""

    def observe(self, n: int) -> int:
        """Record frame ``n``; return how many frames were missed just before it."""
        last, self.last_n = self.last_n, n
        if last is None:
            return 0
        missing = (n - last - 1) % TEL_COUNTER_MODULO
        if missing >= TEL_COUNTER_MODULO // 2:
            self.out_of_order += 1
            return 0
        self.gaps += missing
        return missing

    def restart(self) -> None:
        """Forget the last ``n`` (the controller was reset or telemetry re-enabled)."""
        self.last_n = None


@dataclass(slots=True)
class TelemetryWatchdog:
    """Link-lost rule: no ``TEL`` for ``TEL_LOST_PERIODS`` telemetry periods."""

    period_s: float = 0.0
    """0 while telemetry is off (then the watchdog never expires)."""
    last_seen: float = 0.0
    """When the last ``TEL`` arrived (or when telemetry was enabled)."""

    def arm(self, period_ms: int, now: float) -> None:
        """Telemetry was set to ``period_ms`` at ``now`` (0 disarms)."""
        self.period_s = period_ms / 1000
        self.last_seen = now

    def disarm(self) -> None:
        """Stop watching (link not up)."""
        self.period_s = 0.0

    def seen(self, now: float) -> None:
        """A ``TEL`` frame arrived at ``now``."""
        self.last_seen = now

    @property
    def deadline(self) -> float:
        """When the link counts as lost without a further ``TEL``."""
        if self.period_s <= 0:
            return math.inf
        return self.last_seen + TEL_LOST_PERIODS * self.period_s

    def expired(self, now: float) -> bool:
        """True once ``TEL_LOST_PERIODS`` periods passed without a ``TEL``."""
        return now >= self.deadline


@dataclass(slots=True)
class KeepaliveTimer:
    """The host sends a frame at least every ``hb / 4``: tells when a ``PING`` is due."""

    interval_s: float = 0.25
    last_tx: float = 0.0

    def configure(self, hb_ms: int, now: float) -> None:
        """Use the controller's heartbeat timeout ``hb_ms``."""
        self.interval_s = hb_ms / HEARTBEAT_HOST_DIVISOR / 1000
        self.last_tx = now

    def sent(self, now: float) -> None:
        """A frame was written at ``now``."""
        self.last_tx = now

    def due(self, now: float) -> bool:
        """True when nothing was sent for half the keep-alive interval.

        Sending at half the interval leaves room for a retry and for scheduling delays.
        """
        return now - self.last_tx >= self.interval_s / 2


@dataclass(slots=True)
class Backoff:
    """Exponential reconnect back-off: min, 2*min, ... capped at max."""

    min_s: float = RECONNECT_BACKOFF_MIN_MS / 1000
    max_s: float = RECONNECT_BACKOFF_MAX_MS / 1000
    _next: float = field(default=0.0, repr=False)

    def next_delay(self) -> float:
        """The delay before the next attempt; doubles each call."""
        delay = self._next or self.min_s
        self._next = min(delay * 2, self.max_s)
        return delay

    def reset(self) -> None:
        """A connection succeeded: start again from ``min_s``."""
        self._next = 0.0


def zone_faults(state: LinkState, telemetry: Telemetry | None, zones: int) -> tuple[bool, ...]:
    """Which zones the host must treat as faulted.

    All of them unless the link is up with telemetry; then a zone is faulted when its sensor failed,
    or any fault is latched (the controller turns every heater off for any fault).
    """
    if state is not LinkState.UP or telemetry is None or telemetry.zones < zones:
        return (True,) * zones
    if telemetry.fault is not Fault.NONE:
        return (True,) * zones
    return tuple(isinstance(telemetry.temps_c[i], SensorFailure) for i in range(zones))
