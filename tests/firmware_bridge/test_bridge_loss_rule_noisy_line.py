"""The host's loss rule against hours of a noisy line, in virtual time.

The board side is the simulator's line model (TEL clock 4 % slow with +-15 ms jitter, corruption in
bursts); the host side is its real decoder and ``LinkWatch`` with the default limits. Deterministic
(seeded), so each figure is exactly reproducible; ``bench/bench_control_loop.py`` reports the rates.
"""

from __future__ import annotations

from tests.support.noisy_line import false_losses

NOISY = {"drift_pct": 4.0, "jitter_ms": 15.0}


def test_ten_minutes_at_20_percent_in_short_bursts_is_never_lost() -> None:
    result = false_losses(0.2, 10 / 60, burst_mean=2, burst_max=4, **NOISY)
    assert result["false_link_losses"] == 0, result
    assert 0.17 <= result["bad_line_share"] <= 0.23 and result["host_bad_lines"] > 0, result


def test_an_hour_at_20_percent_of_single_corrupted_frames_is_never_lost() -> None:
    result = false_losses(0.2, 1.0, burst_mean=1, burst_max=1, **NOISY)
    assert result["false_link_losses"] == 0, result


def test_an_hour_at_5_percent_in_bursts_is_never_lost() -> None:
    result = false_losses(0.05, 1.0, burst_mean=2, burst_max=4, **NOISY)
    assert result["false_link_losses"] == 0, result


def test_a_dead_line_is_lost_once_per_window() -> None:
    result = false_losses(1.0, 0.01, burst_mean=1, burst_max=1, **NOISY)  # 36 s without one good frame
    assert 30 <= result["false_link_losses"] <= 36, result
