"""Pure bookkeeping of the host link: SEQ, retries, gaps, watchdogs, back-off. No I/O, no clock.

Every method that depends on time takes ``now`` (monotonic seconds) from the caller.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

from firmware_bridge.constants import (
    HEARTBEAT_HOST_DIVISOR,
    LINK_LOST_MS_DEFAULT,
    LINK_LOST_MS_MAX,
    LINK_LOST_MS_MIN,
    LINK_LOST_TEL_PERIODS_DEFAULT,
    LINK_LOST_TEL_PERIODS_MAX,
    LINK_LOST_TEL_PERIODS_MIN,
    MAX_RETRIES,
    RECONNECT_BACKOFF_MAX_MS,
    RECONNECT_BACKOFF_MIN_MS,
    REPLY_TIMEOUT_MS,
    SEQ_MIN,
    TEL_COUNTER_MODULO,
    UPTIME_WRAP_GRACE_MS,
    UPTIME_WRAP_MS,
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


@dataclass(frozen=True, slots=True)
class LossLimits:
    """When the link counts as lost (spec, "Duties of the host"): no valid ``TEL`` for ``lost_ms`` or
    ``tel_periods`` telemetry periods, whichever is longer, or requests sent for that long and none
    answered."""

    lost_ms: int = LINK_LOST_MS_DEFAULT
    tel_periods: int = LINK_LOST_TEL_PERIODS_DEFAULT

    def __post_init__(self) -> None:
        if not LINK_LOST_MS_MIN <= self.lost_ms <= LINK_LOST_MS_MAX:
            raise ValueError(f"lost_ms must be {LINK_LOST_MS_MIN}..{LINK_LOST_MS_MAX}, not {self.lost_ms}")
        if not LINK_LOST_TEL_PERIODS_MIN <= self.tel_periods <= LINK_LOST_TEL_PERIODS_MAX:
            raise ValueError(
                f"tel_periods must be {LINK_LOST_TEL_PERIODS_MIN}..{LINK_LOST_TEL_PERIODS_MAX}, not {self.tel_periods}"
            )

    def window_ms(self, tel_period_ms: int) -> int:
        """The loss window for telemetry every ``tel_period_ms`` (0: telemetry off)."""
        return max(self.lost_ms, self.tel_periods * tel_period_ms)

    def heartbeat_problem(self, tel_period_ms: int, hb_ms: int) -> str | None:
        """Why these limits do not fit a board whose heartbeat timeout is ``hb_ms`` (``None``: they do).

        A choice of this host, not a rule of the spec: the host holds its last outputs for up to the
        loss window without hearing the board, and keeps that no longer than the board's own heartbeat
        limit for a host it does not hear. It does not bound how long the board heats while the host's
        frames still reach it (the board's hard limits do that); it keeps a configured window from
        growing past what the board was built to tolerate.
        """
        window = self.window_ms(tel_period_ms)
        if window > hb_ms:
            return (
                f"loss window {window} ms (max of {self.lost_ms} ms and {self.tel_periods} x {tel_period_ms} ms "
                f"telemetry) is longer than the controller's heartbeat timeout hb={hb_ms} ms"
            )
        return None


@dataclass(slots=True)
class LinkWatch:
    """The loss rule at run time: telemetry silence and reply silence against one window.

    A request's first send starts the reply clock unless an earlier request is still unanswered, so a
    newer request superseding an older one never hides that the board stopped answering. Any reply
    (``OK`` or ``ERR``, matched or late) stops it: the board heard us.
    """

    window_s: float = math.inf
    telemetry_on: bool = False
    last_tel: float = 0.0
    """When the last valid ``TEL`` arrived (or when the watch was armed)."""
    unanswered_since: float | None = None
    """First send of the oldest request not followed by any reply."""

    def arm(self, window_ms: int, telemetry_on: bool, now: float) -> None:
        """Start watching at ``now`` (the link just came up)."""
        self.window_s = window_ms / 1000
        self.telemetry_on = telemetry_on
        self.last_tel = now
        self.unanswered_since = None

    def disarm(self) -> None:
        """Stop watching (link not up)."""
        self.window_s = math.inf
        self.unanswered_since = None

    def telemetry(self, now: float) -> None:
        """A valid ``TEL`` arrived at ``now``."""
        self.last_tel = now

    def request_sent(self, now: float) -> None:
        """A request (first send or resend) left at ``now``."""
        if self.unanswered_since is None:
            self.unanswered_since = now

    def replied(self) -> None:
        """A reply arrived."""
        self.unanswered_since = None

    @property
    def deadline(self) -> float:
        """When the link counts as lost unless a ``TEL`` or a reply comes first."""
        tel = self.last_tel + self.window_s if self.telemetry_on else math.inf
        replies = math.inf if self.unanswered_since is None else self.unanswered_since + self.window_s
        return min(tel, replies)

    def expired(self, now: float) -> str | None:
        """Why the link is lost at ``now`` (``None``: it is not)."""
        if self.telemetry_on and now >= self.last_tel + self.window_s:
            return f"no valid telemetry for {now - self.last_tel:.2f} s"
        if self.unanswered_since is not None and now >= self.unanswered_since + self.window_s:
            return f"no reply to requests for {now - self.unanswered_since:.2f} s"
        return None


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


def uptime_went_back(last_up_ms: int, up_ms: int) -> bool:
    """True when a board's uptime fell from ``last_up_ms`` to ``up_ms``: it restarted.

    A 32-bit millisecond counter wraps after 49.7 days; a fall from within the last minute before the
    wrap is taken for the wrap, not a restart.
    """
    return up_ms < last_up_ms and last_up_ms < UPTIME_WRAP_MS - UPTIME_WRAP_GRACE_MS


def uptime_fell_behind(last_up_ms: int, elapsed_ms: float, up_ms: int) -> bool:
    """True when a board that said ``last_up_ms`` ``elapsed_ms`` ago now says ``up_ms``, less than half of
    the time since has passed on its clock: it restarted in between (its clock may drift a few per cent,
    never by half)."""
    if last_up_ms >= UPTIME_WRAP_MS - UPTIME_WRAP_GRACE_MS:
        return False
    return up_ms < last_up_ms + elapsed_ms / 2


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
