"""The board's own clock: a crystal that may run off (drift) and telemetry sent with jitter. Pure.

Everything the firmware times by itself runs on :class:`BoardClock` (board seconds): its uptime
``up``, the telemetry period and the heartbeat. With ``tel_drift=PCT`` one board second lasts
``1 + PCT/100`` real seconds, so ``TEL`` arrives every ``tel_ms * (1 + PCT/100)`` real ms while ``up``
still advances by ``tel_ms`` per frame, as on a real board with a slow (PCT > 0) or fast crystal.

:class:`TelemetryClock` schedules each ``TEL`` at its nominal (drifted) time plus a fresh uniform
jitter, so jitter never accumulates into drift: the mean interval stays the drifted period.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from firmware_bridge.simulator.sim_constants import TEL_JITTER_PERIOD_FRACTION_MAX

MS_PER_S = 1000.0
PERCENT = 100.0


class BoardClock:
    """Board time (s) as a piecewise-linear function of real monotonic time (s).

    Without drift, board time equals real time exactly (no rounding), so a board that was never
    given a drift times everything as before.
    """

    def __init__(self, now: float) -> None:
        self._real0 = now
        self._offset_s = 0.0
        """Board time minus real time at ``_real0``."""
        self._rate = 1.0
        """Board seconds per real second."""
        self.drift_pct = 0.0

    def board_time(self, now: float) -> float:
        """Board time at real time ``now``."""
        return now + self._offset_s + (now - self._real0) * (self._rate - 1.0)

    def real_time(self, board_t: float) -> float:
        """Real time at which the board's clock reads ``board_t``."""
        if self._rate == 1.0:
            return board_t - self._offset_s
        return self._real0 + (board_t - (self._real0 + self._offset_s)) / self._rate

    def set_drift(self, pct: float, now: float) -> None:
        """From ``now`` on, one board second lasts ``1 + pct/100`` real seconds (board time is continuous)."""
        board_now = self.board_time(now)
        self._real0 = now
        self._offset_s = board_now - now
        self._rate = 1.0 / (1.0 + pct / PERCENT)
        self.drift_pct = pct


@dataclass(slots=True)
class IntervalStats:
    """Summary of the real intervals between consecutive frames (ms)."""

    count: int = 0
    total_ms: float = 0.0
    min_ms: float | None = None
    max_ms: float | None = None
    last_at: float | None = None
    """Real time of the last frame (s)."""

    def reset(self) -> None:
        """Start a new series (the next frame has no interval)."""
        self.count, self.total_ms, self.min_ms, self.max_ms, self.last_at = 0, 0.0, None, None, None

    def add(self, now: float) -> None:
        """A frame was generated at real time ``now``."""
        if self.last_at is not None:
            interval_ms = (now - self.last_at) * MS_PER_S
            self.count += 1
            self.total_ms += interval_ms
            self.min_ms = interval_ms if self.min_ms is None else min(self.min_ms, interval_ms)
            self.max_ms = interval_ms if self.max_ms is None else max(self.max_ms, interval_ms)
        self.last_at = now

    def summary(self) -> dict[str, float | int | None]:
        """``count``, ``mean``, ``min``, ``max`` in ms (``None`` before the first interval)."""

        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 3)

        mean = self.total_ms / self.count if self.count else None
        return {"count": self.count, "mean": rounded(mean), "min": rounded(self.min_ms), "max": rounded(self.max_ms)}


class TelemetryClock:
    """When the next ``TEL`` is due, on a drifting board clock with per-frame jitter."""

    def __init__(self, clock: BoardClock, rng: random.Random) -> None:
        self.clock = clock
        self._rng = rng
        self.jitter_ms = 0.0
        self.stats = IntervalStats()
        self._period_s = 0.0
        """Telemetry period in board seconds (0: off)."""
        self._nominal = 0.0
        """Board time of the next frame's nominal slot."""
        self._jitter_s = 0.0
        """Jitter (real s) of the next frame."""
        self._due = 0.0
        """Real time the next frame is due."""

    @property
    def nominal_period_ms(self) -> float:
        """The drifted period in real ms (0 while off): the mean interval."""
        return self._period_s * MS_PER_S * (1.0 + self.clock.drift_pct / PERCENT)

    def start(self, period_ms: int, now: float) -> None:
        """Telemetry every ``period_ms`` board ms from ``now`` (0: off); the first one period later."""
        self.stats.reset()
        self._period_s = period_ms / MS_PER_S if period_ms > 0 else 0.0
        self._nominal = self.clock.board_time(now) + self._period_s
        self._schedule(new_jitter=True)

    def set_jitter(self, jitter_ms: float) -> None:
        """Jitter of each frame, uniform in [-jitter_ms, +jitter_ms] (from the next frame on)."""
        self.jitter_ms = jitter_ms
        self.stats.reset()

    def set_drift(self, pct: float, now: float) -> None:
        """The board's clock runs ``pct`` per cent slow (negative: fast) from ``now`` on."""
        self.clock.set_drift(pct, now)
        self.stats.reset()
        self._schedule(new_jitter=False)

    @property
    def next_due_s(self) -> float | None:
        """Real time the next ``TEL`` is due (``None`` while off): lets a virtual-time driver jump to it."""
        return self._due if self._period_s > 0 else None

    def due(self, now: float) -> bool:
        """True when a ``TEL`` is to be generated at ``now``."""
        return self._period_s > 0 and now >= self._due

    def generated(self, now: float) -> None:
        """A ``TEL`` was generated at ``now``: schedule the next one."""
        self.stats.add(now)
        self._nominal += self._period_s
        board_now = self.clock.board_time(now)
        if self._nominal <= board_now:
            self._nominal = board_now + self._period_s  # the board stalled: no burst of catch-up frames
        self._schedule(new_jitter=True)

    def _schedule(self, new_jitter: bool) -> None:
        if new_jitter:
            cap_ms = min(self.jitter_ms, self.nominal_period_ms * TEL_JITTER_PERIOD_FRACTION_MAX)
            self._jitter_s = self._rng.uniform(-cap_ms, cap_ms) / MS_PER_S if cap_ms > 0 else 0.0
        self._due = self.clock.real_time(self._nominal) + self._jitter_s
