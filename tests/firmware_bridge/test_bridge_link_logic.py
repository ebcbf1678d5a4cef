"""Pure link rules: SEQ, retries, gap counting, telemetry watchdog, keep-alive, back-off, zone health."""

from __future__ import annotations

import pytest

from firmware_bridge.link_logic import (
    Backoff,
    GapCounter,
    KeepaliveTimer,
    RetryAction,
    RetrySchedule,
    SeqCounter,
    TelemetryWatchdog,
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


def test_telemetry_watchdog_expires_after_exactly_three_periods() -> None:
    dog = TelemetryWatchdog()
    assert not dog.expired(1e9), "disarmed until telemetry is enabled"
    dog.arm(100, now=5.0)
    assert not dog.expired(5.299)
    dog.seen(5.25)
    assert not dog.expired(5.549)
    assert dog.expired(5.55)
    dog.arm(0, now=6.0)
    assert not dog.expired(1e9), "telemetry off: never expires"


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
