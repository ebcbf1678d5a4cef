"""Fixed-rate deadline arithmetic and loop statistics."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.control.timing import FixedRateSchedule, LoopStats, percentile


def test_deadlines_are_absolute_and_do_not_drift() -> None:
    sched = FixedRateSchedule(0.1, 1000.0)
    assert sched.deadline_s == pytest.approx(1000.1)
    for k in range(1, 10001):
        deadline = sched.deadline_s
        assert deadline == pytest.approx(1000.0 + k * 0.1, abs=1e-9)
        # Always wake 3 ms late and work 20 ms: lateness must not accumulate.
        assert sched.advance(deadline + 0.023) == 0
    assert sched.deadline_s == pytest.approx(1000.0 + 10001 * 0.1, abs=1e-9)
    assert sched.missed == 0


def test_a_late_period_skips_to_the_next_future_deadline_and_counts_the_missed() -> None:
    sched = FixedRateSchedule(0.1, 0.0)
    assert sched.deadline_s == pytest.approx(0.1)
    # Work of the period due at 0.1 s ends at 0.43 s: deadlines 0.2, 0.3, 0.4 are gone.
    assert sched.advance(0.43) == 3
    assert sched.deadline_s == pytest.approx(0.5)
    assert sched.missed == 3
    assert sched.advance(0.51) == 0
    assert sched.deadline_s == pytest.approx(0.6)


def test_finishing_exactly_on_a_deadline_skips_it() -> None:
    sched = FixedRateSchedule(0.5, 0.0)
    assert sched.advance(1.0) == 1  # the deadline at 1.0 is not in the future
    assert sched.deadline_s == pytest.approx(1.5)


def test_finishing_before_the_deadline_moves_one_period() -> None:
    sched = FixedRateSchedule(0.1, 0.0)
    assert sched.advance(0.05) == 0  # woke early (e.g. a short sleep): no deadline is skipped
    assert sched.deadline_s == pytest.approx(0.2)


@pytest.mark.parametrize("period", [0.0, -0.1, float("nan"), float("inf")])
def test_bad_period_is_refused(period: float) -> None:
    with pytest.raises(ValueError):
        FixedRateSchedule(period, 0.0)


@given(
    period=st.floats(0.02, 1.0),
    t0=st.floats(0.0, 1e6),
    delays=st.lists(st.floats(0.0, 5.0), min_size=1, max_size=50),
)
def test_next_deadline_is_always_the_first_in_the_future(period: float, t0: float, delays: list[float]) -> None:
    sched = FixedRateSchedule(period, t0)
    for delay in delays:
        before = sched.index
        done = sched.deadline_s + delay
        missed = sched.advance(done)
        assert sched.deadline_s > done
        assert sched.deadline_s - period <= done + 1e-9 * max(1.0, t0)
        assert sched.index == before + 1 + missed
        assert missed >= 0


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 1.0) == 100.0
    assert percentile([], 0.5) == 0.0
    assert percentile([7.0], 0.99) == 7.0


def test_stats_report_jitter_work_overruns_and_missed() -> None:
    stats = LoopStats()
    period = 0.1
    for k in range(1, 101):
        deadline = k * period
        lateness = 0.005 if k == 50 else 0.0002  # one 5 ms hiccup
        work = 0.25 if k == 80 else 0.01  # one period overruns into the next two
        stats.record(deadline, deadline + lateness, deadline + lateness + work, 2 if k == 80 else 0, period)
    snap = stats.snapshot()
    assert snap.periods == 100
    assert snap.missed_periods == 2
    assert snap.overruns == 1
    assert snap.jitter_p50_ms == pytest.approx(0.2)
    assert snap.jitter_p99_ms == pytest.approx(0.2)
    assert snap.jitter_max_ms == pytest.approx(5.0)
    assert snap.work_max_ms == pytest.approx(250.0)
    assert snap.work_p99_ms == pytest.approx(10.0)
    assert snap.window == 100


def test_stats_window_keeps_recent_samples_but_lifetime_max() -> None:
    stats = LoopStats(window=10)
    stats.record(0.0, 0.050, 0.051, 0, 0.1)  # 50 ms late, long ago
    for k in range(1, 21):
        stats.record(k * 0.1, k * 0.1 + 0.001, k * 0.1 + 0.002, 0, 0.1)
    snap = stats.snapshot()
    assert snap.window == 10
    assert snap.jitter_p99_ms == pytest.approx(1.0)
    assert snap.jitter_max_ms == pytest.approx(50.0)
    stats.reset()
    assert stats.snapshot().periods == 0 and stats.snapshot().jitter_max_ms == 0.0


def test_early_wake_counts_as_jitter() -> None:
    stats = LoopStats()
    stats.record(1.0, 0.998, 1.0, 0, 0.1)
    assert stats.snapshot().jitter_max_ms == pytest.approx(2.0)


def test_window_must_be_positive() -> None:
    with pytest.raises(ValueError):
        LoopStats(window=0)
