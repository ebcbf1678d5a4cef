"""The thermal and motor model, and the link-fault helpers of the simulator."""

from __future__ import annotations

import random

import pytest

from firmware_bridge.codec import FrameDecoder
from firmware_bridge.errors import FrameError, FrameErrorKind
from firmware_bridge.frame import HOST_RX_VERBS, Frame, encode_frame
from firmware_bridge.simulator.faults import FaultKind, FaultSyntaxError, LinkFaults, corrupt_line, parse_fault
from firmware_bridge.simulator.line import BurstModel, Damage, damage_line, expected_burst_frames
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


def test_real_world_command_language() -> None:
    assert parse_fault("tel_jitter=15").ms == 15
    assert parse_fault("tel_drift=-4.5").pct == -4.5
    burst = parse_fault("burst=0.2")
    assert (burst.rate, burst.burst_mean, burst.burst_max) == (0.2, 3.0, 8)
    burst = parse_fault("burst=0.5:4.5:12")
    assert (burst.rate, burst.burst_mean, burst.burst_max) == (0.5, 4.5, 12)
    assert parse_fault("reply_loss=1").rate == 1.0
    assert parse_fault("reboot=200").ms == 200 and parse_fault("hello_delay=0").ms == 0
    event = parse_fault("fault_event=melted:9")
    assert (event.code, event.event_zone, event.zone) == ("melted", "9", None), "any zone, never range-checked"
    assert parse_fault("fault_event=internal:-").event_zone == "-"
    assert parse_fault("swap=NEW1").board_id == "NEW1"
    for bad in ("tel_jitter=-1", "tel_jitter=1.5", "tel_drift=20.5", "tel_drift=-21", "tel_drift=nan",
                "burst=1.5", "burst=0.2:0.5", "burst=0.2:9", "burst=0.2:2:0", "burst=0.1:2:3:4", "burst",
                "reply_loss=-0.1", "reboot", "reboot=-5", "hello_delay=x", "fault_event=overtemp",
                "fault_event=over*temp:1", "fault_event=:1", "swap=", "swap=a=b", "swap=" + "x" * 33):
        with pytest.raises(FaultSyntaxError):
            parse_fault(bad)


def corrupted_runs(model: BurstModel, frames: int) -> tuple[float, list[int]]:
    flags = [model.next_corrupted() for _ in range(frames)]
    lengths, current = [], 0
    for flag in [*flags, False]:
        if flag:
            current += 1
        elif current:
            lengths.append(current)
            current = 0
    return sum(flags) / frames, lengths


@pytest.mark.parametrize(("rate", "mean", "max_frames"), [(0.2, 3.0, 8), (0.05, 1.0, 1), (0.5, 5.0, 10)])
def test_bursts_hit_the_long_run_share_in_capped_runs(rate: float, mean: float, max_frames: int) -> None:
    model = BurstModel(random.Random(11))
    model.configure(rate, mean, max_frames)
    share, lengths = corrupted_runs(model, 200_000)
    assert share == pytest.approx(rate, abs=0.01)
    assert max(lengths) == max_frames, "capped, and the cap is reached"
    assert sum(lengths) / len(lengths) == pytest.approx(expected_burst_frames(mean, max_frames), rel=0.03)


def test_burst_rates_beyond_gapped_bursts_and_the_extremes() -> None:
    model = BurstModel(random.Random(12))
    model.configure(0.9, 3.0, 8)
    assert corrupted_runs(model, 100_000)[0] == pytest.approx(0.9, abs=0.01), "bursts then touch"
    model.configure(1.0, 3.0, 8)
    assert corrupted_runs(model, 1000)[0] == 1.0
    model.configure(0.0, 3.0, 8)
    assert corrupted_runs(model, 1000)[0] == 0.0


def test_damaged_lines_never_decode_and_vary_like_a_noisy_line() -> None:
    rng = random.Random(13)
    lines = [
        encode_frame(Frame(None, "TEL", {"n": "5", "up": "1234", "t0": "231.50", "d0": "400", "fault": "none"})),
        encode_frame(Frame(17, "OK", {})),
        encode_frame(Frame(None, "BOOT", {"fw": "1.0.0-sim"})),
    ]
    seen: dict[Damage, int] = dict.fromkeys(Damage, 0)
    for i in range(3000):
        line = lines[i % len(lines)]
        damaged, kind = damage_line(line, rng)
        seen[kind] += 1
        assert damaged != line
        if kind is Damage.LOST_LF:
            assert damaged == line[:-1], "the LF alone is lost"
            results = FrameDecoder(HOST_RX_VERBS).feed(damaged + lines[(i + 1) % len(lines)])
            assert len(results) == 1 and isinstance(results[0], FrameError), "it runs into the next line"
        else:
            assert damaged.endswith(b"\n") and damaged.count(b"\n") == 1, "one line, still one line"
            results = FrameDecoder(HOST_RX_VERBS).feed(damaged)
            assert len(results) == 1 and isinstance(results[0], FrameError), (kind, damaged)
    assert all(count > 100 for count in seen.values()), seen


def test_reply_loss_spares_telemetry_and_events() -> None:
    faults = LinkFaults(random.Random(6))
    faults.reply_loss_rate = 0.5
    reply = encode_frame(Frame(3, "OK", {}))
    tel = encode_frame(Frame(None, "TEL", {"n": "1"}))
    replies = [faults.outgoing(reply) for _ in range(1000)]
    assert 400 < replies.count(None) < 600 and faults.replies_lost == replies.count(None)
    assert all(faults.outgoing(tel) == tel for _ in range(1000))
    faults.reply_loss_rate = 1.0
    assert faults.outgoing(reply) is None
    faults.clear()
    assert faults.outgoing(reply) == reply
