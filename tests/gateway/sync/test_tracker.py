"""Status bookkeeping, pure: rate over the last minute, lag of the oldest undelivered sample, next attempt."""

from __future__ import annotations

from gateway.sync.tracker import SyncTracker


def test_rate_counts_only_the_last_minute() -> None:
    track = SyncTracker("https://ingest.example.com/v1", started_monotonic=0.0)
    track.delivered(6000, now=1000.0, now_monotonic=10.0)
    assert track.status(now=1000.0, now_monotonic=20.0).rate_samples_per_s == 300.0  # 6000 in 20 s so far
    track.delivered(1200, now=1100.0, now_monotonic=100.0)
    status = track.status(now=1100.0, now_monotonic=100.0)
    assert status.rate_samples_per_s == 20.0  # only the 1200 of the last 60 s
    assert (status.delivered_samples, status.delivered_batches, status.last_success_at) == (7200, 2, 1100.0)


def test_lag_and_next_attempt() -> None:
    track = SyncTracker("https://ingest.example.com/v1", started_monotonic=0.0)
    assert track.status(now=50.0, now_monotonic=1.0).lag_s is None  # not known yet
    track.state, track.oldest_pending_ts, track.next_attempt_at = "backing_off", 40.0, 31.0
    status = track.status(now=3640.0, now_monotonic=30.0)
    assert status.lag_s == 3600.0 and status.next_attempt_in_s == 1.0
    track.state, track.oldest_pending_ts, track.next_attempt_at = "idle", None, None
    status = track.status(now=3700.0, now_monotonic=90.0)
    assert status.lag_s == 0.0 and status.next_attempt_in_s is None
