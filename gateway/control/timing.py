"""Fixed-rate deadline arithmetic and loop timing statistics. Pure: the runner passes the times.

Deadlines are absolute, ``t0 + k * period``: a late wake-up never shifts the ones after it (no
drift). When the work of a period ends after one or more later deadlines, those periods are counted
as missed and the schedule skips to the first deadline still in the future (no burst of catch-up
iterations).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from gateway.control.const import TIMING_WINDOW_SAMPLES

__all__ = ["FixedRateSchedule", "LoopStats", "TimingSnapshot", "percentile"]

_MS_PER_S = 1000.0


class FixedRateSchedule:
    """Deadline ``k`` is ``t0_s + k * period_s``; starts at ``k = 1`` (one period after ``t0_s``)."""

    def __init__(self, period_s: float, t0_s: float) -> None:
        if not (math.isfinite(period_s) and period_s > 0):
            raise ValueError("period_s must be a finite number > 0")
        self.period_s = period_s
        self.t0_s = t0_s
        self.index = 1
        self.missed = 0
        """Periods skipped since the start."""

    @property
    def deadline_s(self) -> float:
        """The deadline to sleep until now."""
        return self.t0_s + self.index * self.period_s

    def advance(self, now_s: float) -> int:
        """Move to the first deadline strictly after ``now_s``; return how many were skipped."""
        following = self.index + 1
        first_future = max(following, math.floor((now_s - self.t0_s) / self.period_s) + 1)
        # floor() on a value a rounding error short of an integer: never land on a past deadline.
        while self.t0_s + first_future * self.period_s <= now_s:
            first_future += 1
        skipped = first_future - following
        self.index = first_future
        self.missed += skipped
        return skipped


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (0.0 for none)."""
    if not sorted_values:
        return 0.0
    rank = max(math.ceil(fraction * len(sorted_values)), 1)
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass(frozen=True, slots=True)
class TimingSnapshot:
    """Loop timing for the API: lifetime counts and maxima, percentiles over the recent window."""

    periods: int
    missed_periods: int
    overruns: int
    """Periods whose work ended after the next deadline."""
    jitter_p50_ms: float
    jitter_p99_ms: float
    jitter_max_ms: float
    """Wake-up lateness ``|woke - deadline|``."""
    work_p99_ms: float
    work_max_ms: float
    """Time from wake-up to the end of the period's work."""
    window: int
    """Samples the percentiles cover."""


class LoopStats:
    """Accumulates per-period timing of a fixed-rate loop."""

    def __init__(self, window: int = TIMING_WINDOW_SAMPLES) -> None:
        if window < 1:
            raise ValueError("window must be >= 1")
        self._window = window
        self.reset()

    def reset(self) -> None:
        self._jitter: deque[float] = deque(maxlen=self._window)
        self._work: deque[float] = deque(maxlen=self._window)
        self.periods = 0
        self.missed_periods = 0
        self.overruns = 0
        self.jitter_max_s = 0.0
        self.work_max_s = 0.0

    def record(self, deadline_s: float, woke_s: float, done_s: float, missed: int, period_s: float) -> None:
        """One period: its deadline, when the loop woke and finished, periods skipped after it."""
        jitter = abs(woke_s - deadline_s)
        work = max(done_s - woke_s, 0.0)
        self._jitter.append(jitter)
        self._work.append(work)
        self.periods += 1
        self.missed_periods += max(missed, 0)
        if done_s > deadline_s + period_s:
            self.overruns += 1
        self.jitter_max_s = max(self.jitter_max_s, jitter)
        self.work_max_s = max(self.work_max_s, work)

    def snapshot(self) -> TimingSnapshot:
        jitter = sorted(self._jitter)
        work = sorted(self._work)
        return TimingSnapshot(
            periods=self.periods,
            missed_periods=self.missed_periods,
            overruns=self.overruns,
            jitter_p50_ms=percentile(jitter, 0.50) * _MS_PER_S,
            jitter_p99_ms=percentile(jitter, 0.99) * _MS_PER_S,
            jitter_max_ms=self.jitter_max_s * _MS_PER_S,
            work_p99_ms=percentile(work, 0.99) * _MS_PER_S,
            work_max_ms=self.work_max_s * _MS_PER_S,
            window=len(jitter),
        )
