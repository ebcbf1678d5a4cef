"""The thermal and motor model, and the link-fault helpers of the simulator."""

from __future__ import annotations

import random

import pytest

from firmware_bridge.codec import FrameDecoder
from firmware_bridge.errors import FrameError, FrameErrorKind
from firmware_bridge.frame import HOST_RX_VERBS, Frame, encode_frame
from firmware_bridge.simulator.faults import FaultKind, FaultSyntaxError, LinkFaults, corrupt_line, parse_fault
from firmware_bridge.simulator.plant import ExtruderPlant, HeaterCondition, SensorCondition, ZoneParams


def plant(zones: int = 1) -> ExtruderPlant:
    return ExtruderPlant(zones, random.Random(7), ZoneParams(noise_c=0.0))


def test_250c_is_reached_in_a_few_minutes_at_full_power() -> None:
    p = plant()
    p.set_output(0, 1.0)
    seconds = 0
    while p.true_temp_c(0) < 250.0:
        p.advance(1.0)
        seconds += 1
        assert seconds < 600, "not reachable"
    assert 120 <= seconds <= 360


def test_dead_time_and_sensor_lag() -> None:
    p = plant()
    p.set_output(0, 1.0)
    p.advance(3.5)
    assert p.true_temp_c(0) == pytest.approx(25.0), "the heater's effect is delayed by the dead time"
    p.advance(10.0)
    reading = p.read_sensor(0)
    assert isinstance(reading, float) and 25.0 < reading < p.true_temp_c(0)


def test_heater_off_cools_towards_ambient() -> None:
    p = plant()
    p.set_output(0, 1.0)
    p.advance(200.0)
    hot = p.true_temp_c(0)
    p.set_output(0, 0.0)
    p.advance(2000.0)
    assert 25.0 < p.true_temp_c(0) < hot - 100


def test_heater_faults_and_sensor_faults() -> None:
    p = plant(3)
    p.set_heater(0, HeaterCondition.DEAD)
    p.set_heater(1, HeaterCondition.STUCK)
    p.set_output(0, 1.0)
    p.advance(60.0)
    assert p.true_temp_c(0) == pytest.approx(25.0)
    assert p.true_temp_c(1) > 40.0
    p.set_sensor(2, SensorCondition.OPEN)
    assert p.read_sensor(2) == "open"


def test_motor_and_pressure() -> None:
    p = plant()
    p.rpm_command = 60.0
    p.advance(5.0)
    assert p.rpm == pytest.approx(60.0, abs=0.01)
    cold_bar = p.bar
    p.set_output(0, 1.0)
    p.advance(400.0)
    assert 0 < p.bar < cold_bar, "hotter melt flows easier"


def test_fault_command_language() -> None:
    assert parse_fault("sensor=1:short").zone == 1
    assert parse_fault("heater=0:stuck").condition == HeaterCondition.STUCK
    assert parse_fault("crc=0.2").rate == 0.2
    assert parse_fault("silence=off").on is False
    assert parse_fault("slow=150").ms == 150
    assert parse_fault("unplug").kind is FaultKind.UNPLUG and parse_fault("unplug").ms is None
    assert parse_fault("unplug=2000").ms == 2000
    for bad in ("sensor=1:hot", "crc=2", "crc=x", "reset=now", "melt", "slow=-1", "silence=maybe", "unplug=-5"):
        with pytest.raises(FaultSyntaxError):
            parse_fault(bad)


def test_corrupted_lines_fail_the_crc() -> None:
    rng = random.Random(3)
    good = encode_frame(Frame(None, "TEL", {"n": "5", "t0": "231.50", "fault": "none"}))
    for _ in range(200):
        bad = corrupt_line(good, rng)
        result = FrameDecoder(HOST_RX_VERBS).feed(bad)[0]
        assert isinstance(result, FrameError) and result.kind is FrameErrorKind.BAD_CRC


def test_link_faults_rates() -> None:
    faults = LinkFaults(random.Random(5))
    line = encode_frame(Frame(3, "OK", {}))
    assert faults.outgoing(line) == line
    faults.drop_rate = 0.5
    results = [faults.outgoing(line) for _ in range(1000)]
    assert 400 < results.count(None) < 600
    faults.clear()
    faults.silent = True
    assert faults.outgoing(line) is None and faults.silenced_tx == 1
