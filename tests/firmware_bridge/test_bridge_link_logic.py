"""Pure link rules: SEQ, retries, gap counting, the loss window, keep-alive, back-off, zone health."""

from __future__ import annotations

import pytest

from firmware_bridge.link_logic import (
    Backoff,
    GapCounter,
    KeepaliveTimer,
    LinkWatch,
    LossLimits,
    RetryAction,
    RetrySchedule,
    SeqCounter,
    uptime_fell_behind,
    uptime_went_back,
    zone_faults,
)
from firmware_bridge.messages import LinkState
from firmware_bridge.telemetry import Fault, SensorFailure, Telemetry


def test_seq_counter_starts_at_1_and_wraps_65535_to_1() -> None:
    seq = SeqCounter()
    assert [seq.next() for _ in range(3)] == [1, 2, 3]
    seq.last = 65534
    assert [seq.next() for _ in range(3)] == [65535, 1, 2]


def test_retry_schedule_sends_four_times_then_gives_up() -> None:
    sched = RetrySchedule(timeout_s=0.1, max_retries=3)
    now = 10.0
    sched.sent(now)
    assert sched.action(now + 0.099) is RetryAction.WAIT
    for retry in range(3):
        now += 0.1
        assert sched.action(now) is RetryAction.RESEND, retry
        sched.sent(now)
    assert sched.attempts == 4
    assert sched.action(now + 0.05) is RetryAction.WAIT
    assert sched.action(now + 0.1) is RetryAction.GIVE_UP


def test_gap_counter_counts_missing_frames_across_the_wrap() -> None:
    gaps = GapCounter()
    assert gaps.observe(65533) == 0
    assert gaps.observe(65534) == 0
    assert gaps.observe(65535) == 0
    assert gaps.observe(0) == 0, "65535 -> 0 is not a gap"
    assert gaps.observe(3) == 2
    gaps2 = GapCounter()
    gaps2.observe(65534)
    assert gaps2.observe(1) == 2, "65535 and 0 missing"
    assert gaps2.gaps == 2


def test_gap_counter_ignores_repeats_and_restarts() -> None:
    gaps = GapCounter()
    gaps.observe(10)
    assert gaps.observe(10) == 0 and gaps.out_of_order == 1
    assert gaps.observe(5) == 0 and gaps.out_of_order == 2
    gaps.restart()
    assert gaps.observe(0) == 0 and gaps.gaps == 0


def test_loss_window_is_1000_ms_or_5_periods_whichever_is_longer() -> None:
    limits = LossLimits()
    assert limits.window_ms(100) == 1000
    assert limits.window_ms(104) == 1000
    assert limits.window_ms(250) == 1250
    assert limits.window_ms(0) == 1000
    assert LossLimits(lost_ms=600, tel_periods=3).window_ms(150) == 600


@pytest.mark.parametrize("kwargs", [{"lost_ms": 399}, {"lost_ms": 60_001}, {"tel_periods": 1}, {"tel_periods": 101}])
def test_loss_limits_out_of_range_are_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        LossLimits(**kwargs)


def test_loss_window_must_fit_the_boards_heartbeat() -> None:
    limits = LossLimits()
    assert limits.heartbeat_problem(100, 1000) is None
    assert limits.heartbeat_problem(200, 1000) is None
    problem = limits.heartbeat_problem(250, 1000)
    assert problem is not None and "1250 ms" in problem and "hb=1000 ms" in problem
    assert limits.heartbeat_problem(100, 800) is not None


def test_telemetry_silence_expires_at_the_window_not_at_the_third_frame() -> None:
    watch = LinkWatch()
    assert watch.expired(1e9) is None, "disarmed until the link is up"
    watch.arm(1000, telemetry_on=True, now=5.0)
    watch.telemetry(5.104)
    for missing in range(1, 9):  # a 104 ms board losing 8 frames in a row: still not lost
        assert watch.expired(5.104 + missing * 0.104 + 0.05) is None
    assert watch.expired(6.103) is None
    reason = watch.expired(6.104)
    assert reason is not None and "telemetry" in reason
    watch.arm(1000, telemetry_on=False, now=10.0)
    assert watch.expired(1e6) is None, "telemetry off and no request: never lost"


def test_unanswered_requests_expire_even_when_newer_ones_supersede_older() -> None:
    watch = LinkWatch()
    watch.arm(1000, telemetry_on=True, now=0.0)
    for period in range(12):  # one OUT per 100 ms period, none answered; TEL keeps flowing
        now = period * 0.1
        watch.telemetry(now)
        watch.request_sent(now)
        if now < 1.0:
            assert watch.expired(now) is None
    reason = watch.expired(1.1)
    assert reason is not None and "no reply" in reason
    watch.replied()
    assert watch.expired(1.1) is None
    watch.telemetry(1.2)
    watch.request_sent(1.25)
    assert watch.deadline == pytest.approx(2.2), "telemetry's deadline comes first"
    watch.telemetry(1.3)
    assert watch.deadline == pytest.approx(2.25), "then the unanswered request's"


def test_any_reply_restarts_the_reply_clock() -> None:
    watch = LinkWatch()
    watch.arm(1000, telemetry_on=True, now=0.0)
    for period in range(50):  # 4 of 5 replies lost: the board still answers
        now = period * 0.1
        watch.telemetry(now)
        watch.request_sent(now)
        if period % 5 == 0:
            watch.replied()
        assert watch.expired(now) is None


def test_uptime_going_back_is_a_restart_unless_it_is_the_32_bit_wrap() -> None:
    assert uptime_went_back(50_000, 120)
    assert not uptime_went_back(50_000, 50_100)
    assert not uptime_went_back(2**32 - 100, 20), "the counter wrapped"


def test_keepalive_is_due_well_within_a_quarter_heartbeat() -> None:
    ka = KeepaliveTimer()
    ka.configure(hb_ms=1000, now=0.0)
    assert ka.interval_s == pytest.approx(0.25)
    assert not ka.due(0.1)
    assert ka.due(0.125)
    ka.sent(0.2)
    assert not ka.due(0.3)


def test_backoff_doubles_up_to_the_cap_and_resets() -> None:
    backoff = Backoff(min_s=0.1, max_s=0.5)
    assert [backoff.next_delay() for _ in range(5)] == pytest.approx([0.1, 0.2, 0.4, 0.5, 0.5])
    backoff.reset()
    assert backoff.next_delay() == pytest.approx(0.1)


def _tel(temps: tuple[float | SensorFailure, ...], fault: Fault = Fault.NONE) -> Telemetry:
    return Telemetry(1, 0, temps, (0,) * len(temps), 0.0, 0.0, fault)


def test_every_zone_is_faulted_unless_up_with_healthy_telemetry() -> None:
    healthy = _tel((200.0, 210.0, 220.0))
    for state in (LinkState.DISCONNECTED, LinkState.HANDSHAKING, LinkState.LOST):
        assert zone_faults(state, healthy, 3) == (True, True, True)
    assert zone_faults(LinkState.UP, None, 3) == (True, True, True)
    assert zone_faults(LinkState.UP, healthy, 3) == (False, False, False)
    assert zone_faults(LinkState.UP, _tel((200.0, SensorFailure.OPEN, 1.0)), 3) == (False, True, False)
    assert zone_faults(LinkState.UP, _tel((200.0, 1.0, 1.0), Fault.ESTOP), 3) == (True, True, True)


def test_an_uptime_that_fell_behind_the_time_since_is_a_restart() -> None:
    assert not uptime_fell_behind(5_000, 300, 5_310), "a live board (clock a little fast)"
    assert not uptime_fell_behind(5_000, 300, 5_280), "a live board (clock a little slow)"
    assert uptime_fell_behind(5_000, 300, 250), "restarted 250 ms ago"
    assert uptime_fell_behind(200, 400, 350), "even a young board: 350 < 200 + 400 / 2"
    assert not uptime_fell_behind(2**32 - 10, 300, 290), "the 32-bit wrap"
