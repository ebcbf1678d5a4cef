"""Tests of gateway.auth.backoff: blocking, doubling, cap, decay, sliding window, bounded memory."""

from __future__ import annotations

import pytest

from gateway.auth.backoff import FailedAuthTracker
from gateway.auth.const import (
    BACKOFF_DECAY_S,
    BACKOFF_INITIAL_S,
    BACKOFF_MAX_S,
    FAILED_AUTH_LIMIT,
    FAILED_AUTH_WINDOW_S,
)
from tests.support.clock import FakeClock

A = "192.0.2.10"
B = "192.0.2.11"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1000.0)


@pytest.fixture
def tracker(clock: FakeClock) -> FailedAuthTracker:
    return FailedAuthTracker(clock)


def fail_until_blocked(tracker: FailedAuthTracker, clock: FakeClock, addr: str = A) -> float:
    """Record failures one second apart until a block starts; returns the block."""
    for _ in range(FAILED_AUTH_LIMIT):
        block = tracker.record_failure(addr)
        if block:
            return block
        clock.advance(1)
    raise AssertionError("no block")


def wait_out_block(tracker: FailedAuthTracker, clock: FakeClock, addr: str = A) -> None:
    clock.advance(tracker.retry_after(addr))
    assert tracker.retry_after(addr) == 0


def test_defaults_match_the_spec() -> None:
    assert (FAILED_AUTH_LIMIT, FAILED_AUTH_WINDOW_S, BACKOFF_MAX_S) == (5, 60, 900)
    assert 0 < BACKOFF_INITIAL_S <= BACKOFF_MAX_S
    assert BACKOFF_DECAY_S > 0


def test_four_failures_do_not_block(tracker: FailedAuthTracker, clock: FakeClock) -> None:
    for _ in range(4):
        assert tracker.record_failure(A) == 0
        assert tracker.retry_after(A) == 0
        clock.advance(1)
    assert tracker.blocked_addresses() == 0


def test_fifth_failure_starts_block_sixth_attempt_refused(tracker: FailedAuthTracker, clock: FakeClock) -> None:
    for _ in range(4):
        assert tracker.record_failure(A) == 0
        clock.advance(10)
    assert tracker.record_failure(A) == BACKOFF_INITIAL_S  # 5th within 40 s
    clock.advance(1)
    assert tracker.retry_after(A) == BACKOFF_INITIAL_S - 1  # the 6th attempt gets 429
    assert tracker.blocked_addresses() == 1


def test_retry_after_counts_down_to_zero(tracker: FailedAuthTracker, clock: FakeClock) -> None:
    block = fail_until_blocked(tracker, clock)
    assert tracker.retry_after(A) == block
    clock.advance(block / 2)
    assert tracker.retry_after(A) == pytest.approx(block / 2)
    clock.advance(block / 2)
    assert tracker.retry_after(A) == 0
    assert tracker.blocked_addresses() == 0


def test_other_address_unaffected(tracker: FailedAuthTracker, clock: FakeClock) -> None:
    fail_until_blocked(tracker, clock, A)
    assert tracker.retry_after(B) == 0
    for _ in range(FAILED_AUTH_LIMIT - 1):
        assert tracker.record_failure(B) == 0
    assert tracker.retry_after(B) == 0
    assert tracker.blocked_addresses() == 1


def test_failure_recorded_while_blocked_changes_nothing(tracker: FailedAuthTracker, clock: FakeClock) -> None:
    block = fail_until_blocked(tracker, clock)
    clock.advance(5)
    assert tracker.record_failure(A) == block - 5
    assert tracker.retry_after(A) == block - 5
    wait_out_block(tracker, clock)
    assert tracker.record_failure(A) == 2 * BACKOFF_INITIAL_S  # one doubling, not two


def test_doubling_on_each_failure_after_a_block(tracker: FailedAuthTracker, clock: FakeClock) -> None:
    assert fail_until_blocked(tracker, clock) == BACKOFF_INITIAL_S
    expected = BACKOFF_INITIAL_S
    for _ in range(3):
        wait_out_block(tracker, clock)
        clock.advance(1)
        expected *= 2
        assert tracker.record_failure(A) == expected  # a single failure is enough while hot
        assert tracker.retry_after(A) == expected


def test_block_is_capped(tracker: FailedAuthTracker, clock: FakeClock) -> None:
    blocks = [fail_until_blocked(tracker, clock)]
    for _ in range(12):
        wait_out_block(tracker, clock)
        blocks.append(tracker.record_failure(A))
    assert max(blocks) == BACKOFF_MAX_S
    assert blocks[-5:] == [BACKOFF_MAX_S] * 5
    assert blocks == sorted(blocks)
    assert blocks[:5] == [30, 60, 120, 240, 480]


def test_cap_with_other_parameters(clock: FakeClock) -> None:
    tracker = FailedAuthTracker(clock, limit=1, initial_block_s=10, max_block_s=10)
    assert tracker.record_failure(A) == 10
    for _ in range(3):
        wait_out_block(tracker, clock)
        assert tracker.record_failure(A) == 10


def test_decay_steps_the_block_down(tracker: FailedAuthTracker, clock: FakeClock) -> None:
    fail_until_blocked(tracker, clock)
    for _ in range(3):
        wait_out_block(tracker, clock)
        tracker.record_failure(A)
    assert tracker.retry_after(A) == 240  # level 4 reached
    wait_out_block(tracker, clock)
    clock.advance(BACKOFF_DECAY_S)  # one quiet period: one step down
    assert tracker.record_failure(A) == 240
    wait_out_block(tracker, clock)
    clock.advance(2 * BACKOFF_DECAY_S)  # two quiet periods: two steps down
    assert tracker.record_failure(A) == 120


def test_decay_back_to_normal(tracker: FailedAuthTracker, clock: FakeClock) -> None:
    fail_until_blocked(tracker, clock)
    for _ in range(8):
        wait_out_block(tracker, clock)
        tracker.record_failure(A)
    assert tracker.retry_after(A) == BACKOFF_MAX_S
    wait_out_block(tracker, clock)
    clock.advance(10 * BACKOFF_DECAY_S)
    for _ in range(FAILED_AUTH_LIMIT - 1):  # normal again: limit - 1 failures are free
        assert tracker.record_failure(A) == 0
    assert tracker.record_failure(A) == BACKOFF_INITIAL_S


def test_decay_does_not_run_during_a_block(clock: FakeClock) -> None:
    tracker = FailedAuthTracker(clock, limit=1, initial_block_s=100, max_block_s=1000, decay_s=10)
    assert tracker.record_failure(A) == 100
    wait_out_block(tracker, clock)  # 100 s blocked >> decay_s, but blocked time is not quiet time
    assert tracker.record_failure(A) == 200


def test_partial_quiet_time_is_not_lost_between_lookups(clock: FakeClock) -> None:
    tracker = FailedAuthTracker(clock, limit=1, initial_block_s=10, max_block_s=10_000, decay_s=100)
    tracker.record_failure(A)  # 10, level 1
    for _ in range(3):
        wait_out_block(tracker, clock)
        tracker.record_failure(A)  # 20, 40, 80; level 4
    wait_out_block(tracker, clock)
    clock.advance(150)
    assert tracker.prune() == 0  # evaluates decay (one step), keeps the remaining 50 s
    clock.advance(50)
    assert tracker.record_failure(A) == 40  # two steps down from level 4: 10 * 2**2


def test_window_slides(tracker: FailedAuthTracker, clock: FakeClock) -> None:
    """Failures spread over more than the window never block."""
    for _ in range(50):
        assert tracker.record_failure(A) == 0
        clock.advance(FAILED_AUTH_WINDOW_S / (FAILED_AUTH_LIMIT - 1))
    assert tracker.retry_after(A) == 0


def test_window_boundary(tracker: FailedAuthTracker, clock: FakeClock) -> None:
    for _ in range(4):
        tracker.record_failure(A)
        clock.advance(1)
    clock.advance(FAILED_AUTH_WINDOW_S - 4)  # the first failure is now exactly one window old
    assert tracker.record_failure(A) == 0
    assert tracker.record_failure(A) == BACKOFF_INITIAL_S


def test_success_does_not_reset(tracker: FailedAuthTracker, clock: FakeClock) -> None:
    for _ in range(4):
        tracker.record_failure(A)
        tracker.record_success(A)
    assert tracker.record_failure(A) == BACKOFF_INITIAL_S
    tracker.record_success(A)
    assert tracker.retry_after(A) == BACKOFF_INITIAL_S
    wait_out_block(tracker, clock)
    tracker.record_success(A)
    assert tracker.record_failure(A) == 2 * BACKOFF_INITIAL_S


def test_memory_is_bounded(clock: FakeClock) -> None:
    tracker = FailedAuthTracker(clock, max_tracked=100)
    for i in range(10_000):
        tracker.record_failure(f"10.0.{i // 256}.{i % 256}")
    assert tracker.tracked_addresses() == 100


def test_eviction_prefers_least_recently_active(clock: FakeClock) -> None:
    tracker = FailedAuthTracker(clock, limit=2, max_tracked=3)
    tracker.record_failure("a")
    tracker.record_failure("b")
    tracker.record_failure("c")
    tracker.record_failure("a")  # a is blocked and now the most recently active
    assert tracker.retry_after("a") > 0
    tracker.record_failure("d")  # evicts b, the least recently active
    assert tracker.tracked_addresses() == 3
    tracker.record_failure("b")  # b starts over: no block on its 2nd-ever failure
    assert tracker.retry_after("b") == 0
    assert tracker.retry_after("a") > 0


def test_stale_entries_are_dropped_before_live_ones(clock: FakeClock) -> None:
    tracker = FailedAuthTracker(clock, max_tracked=3)
    tracker.record_failure("old")
    clock.advance(FAILED_AUTH_WINDOW_S + 1)
    fail_until_blocked(tracker, clock, "blocked")
    tracker.record_failure("c")
    tracker.record_failure("d")  # "old" is stale (window passed, never blocked) and goes first
    assert tracker.retry_after("blocked") > 0
    assert tracker.tracked_addresses() == 3


def test_prune_forgets_expired_addresses(tracker: FailedAuthTracker, clock: FakeClock) -> None:
    tracker.record_failure(A)
    fail_until_blocked(tracker, clock, B)
    assert tracker.tracked_addresses() == 2
    clock.advance(FAILED_AUTH_WINDOW_S)
    assert tracker.prune() == 1  # A's failure left the window; B's block is over but B is still hot
    assert tracker.prune() == 0
    clock.advance(BACKOFF_DECAY_S)
    assert tracker.prune() == 1
    assert tracker.tracked_addresses() == 0


def test_unknown_address(tracker: FailedAuthTracker) -> None:
    assert tracker.retry_after("never-seen") == 0
    tracker.record_success("never-seen")
    assert tracker.tracked_addresses() == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"limit": 0},
        {"window_s": 0},
        {"initial_block_s": -1},
        {"max_block_s": float("inf")},
        {"decay_s": 0},
        {"max_tracked": 0},
        {"initial_block_s": 100, "max_block_s": 50},
    ],
)
def test_invalid_parameters(clock: FakeClock, kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        FailedAuthTracker(clock, **kwargs)  # type: ignore[arg-type]
