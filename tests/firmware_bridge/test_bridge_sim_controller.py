"""The simulated board's state machine with an injected clock: requests, failsafes, telemetry."""

from __future__ import annotations

import random

import pytest

from firmware_bridge.codec import FrameDecoder
from firmware_bridge.constants import MAX_LINE_BYTES, SENSOR_SAMPLE_PERIOD_MS
from firmware_bridge.frame import HOST_RX_VERBS, Frame, encode_frame
from firmware_bridge.simulator.controller import Controller, ControllerConfig
from firmware_bridge.simulator.plant import ExtruderPlant, HeaterCondition, SensorCondition
from firmware_bridge.simulator.requests import handle_request
from firmware_bridge.telemetry import Fault, SensorFailure, parse_telemetry

SAMPLE_S = SENSOR_SAMPLE_PERIOD_MS / 1000


class Board:
    """A controller on a fake clock."""

    def __init__(self, **config: object) -> None:
        cfg = ControllerConfig(**config)  # type: ignore[arg-type]
        self.now = 100.0
        self.plant = ExtruderPlant(cfg.zones, random.Random(1))
        self.c = Controller(cfg, self.plant, self.now)
        self.seq = 0
        self.events: list[Frame] = []

    def req(self, verb: str, **fields: str) -> Frame:
        self.seq += 1
        out = handle_request(self.c, Frame(self.seq, verb, fields), self.now)
        self.events += out[1:]
        assert out[0].seq == self.seq
        return out[0]

    def err(self, verb: str, **fields: str) -> str:
        reply = self.req(verb, **fields)
        assert reply.verb == "ERR", reply
        return reply.fields["code"]

    def run(self, seconds: float, step: float = 0.005) -> list[Frame]:
        out: list[Frame] = []
        end = self.now + seconds
        while self.now < end - 1e-9:
            self.now += step
            out += self.c.tick(self.now)
        self.events += [f for f in out if f.verb != "TEL"]
        return out


def test_hello_reports_the_board() -> None:
    b = Board(zones=4, tmax_c=280.0, hb_ms=800)
    reply = b.req("HELLO", proto="1")
    assert reply == Frame(1, "OK", {"proto": "1", "fw": "1.0.0-sim", "id": "SIM0001", "zones": "4",
                                   "tmax": "280", "hb": "800", "tel": "0"})
    assert b.err("HELLO", proto="2") == "range"
    assert b.err("HELLO") == "syntax"


def test_out_and_motor_validation() -> None:
    b = Board(zones=3)
    assert b.req("OUT", d0="500", d2="1000").verb == "OK"
    assert b.c.applied == [500, 0, 1000]
    assert b.req("OUT", d2="0").verb == "OK"
    assert b.c.applied == [500, 0, 0], "zones not named keep their output"
    assert b.err("OUT", d0="1001") == "range"
    assert b.err("OUT", d0="-1") == "range"
    assert b.err("OUT", d3="1") == "zone"
    assert b.err("OUT", d0="abc") == "syntax"
    assert b.err("OUT") == "syntax"
    assert b.err("OUT", x0="1") == "unknown"
    assert b.err("OUT", d0="100", d7="1") == "zone"
    assert b.c.applied == [500, 0, 0], "a rejected OUT changes nothing"
    assert b.req("MOTOR", rpm="12.5").verb == "OK" and b.c.motor_rpm == 12.5
    assert b.err("MOTOR", rpm="200.1") == "range"
    assert b.err("MOTOR", rpm="-1") == "range"
    assert b.err("MOTOR", rpm="fast") == "syntax"
    assert b.err("TEL", ms="19") == "range"
    assert b.err("TEL", ms="5001") == "range"
    assert b.err("PING", x="1") == "unknown"
    assert b.req("TEL", ms="20").verb == "OK"


def test_estop_latches_and_refuses_non_zero_outputs_until_cleared() -> None:
    b = Board()
    b.req("OUT", d0="800", d1="800")
    b.req("MOTOR", rpm="50")
    assert b.req("ESTOP").verb == "OK"
    assert b.c.applied == [0, 0, 0] and b.plant.rpm_command == 0.0
    assert b.events == [Frame(None, "FAULT", {"code": "estop", "zone": "-"})]
    assert b.req("STATUS").fields["fault"] == "estop"
    assert b.err("OUT", d0="1") == "faulted"
    assert b.err("MOTOR", rpm="1") == "faulted"
    assert b.req("OUT", d0="0").verb == "OK"
    assert b.req("MOTOR", rpm="0").verb == "OK"
    assert b.req("CLEAR").verb == "OK"
    assert b.c.applied == [0, 0, 0], "clearing does not bring the old outputs back"
    assert b.req("OUT", d0="10").verb == "OK" and b.c.applied == [10, 0, 0]


def test_heartbeat_latches_host_timeout_exactly_after_hb() -> None:
    b = Board(hb_ms=1000)
    b.run(3.0)
    assert not b.c.faults, "the heartbeat is armed by the first host frame"
    b.req("OUT", d0="700")
    b.run(0.995)
    assert b.c.applied == [700, 0, 0]
    b.run(0.01)
    assert b.c.applied == [0, 0, 0]
    assert b.c.fault is Fault.HOST_TIMEOUT
    assert b.c.latched_at[Fault.HOST_TIMEOUT] - b.c.last_rx == pytest.approx(1.0, abs=0.006)
    assert Frame(None, "FAULT", {"code": "host_timeout", "zone": "-"}) in b.events
    assert b.req("CLEAR").verb == "OK", "the host is back: the cause is gone"


@pytest.mark.parametrize("condition", [SensorCondition.OPEN, SensorCondition.SHORT])
def test_failed_sensor_latches_after_four_samples_and_blocks_clear(condition: SensorCondition) -> None:
    b = Board()
    b.req("OUT", d0="500", d1="500", d2="500")
    b.plant.set_sensor(1, condition)
    b.run(3 * SAMPLE_S)
    assert not b.c.faults, "three bad samples are not enough"
    b.run(SAMPLE_S)
    assert b.c.faults == {Fault.SENSOR: 1}
    assert b.c.applied == [0, 0, 0]
    assert b.events[-1] == Frame(None, "FAULT", {"code": "sensor", "zone": "1"})
    assert b.req("STATUS").fields == {"fault": "sensor", "zone": "1", "up": b.req("PING").fields["up"]}
    assert b.err("CLEAR") == "active"
    b.plant.set_sensor(1, SensorCondition.OK)
    b.run(SAMPLE_S)
    assert b.req("CLEAR").verb == "OK"



def test_bad_samples_must_be_consecutive() -> None:
    b = Board()
    for _ in range(3):
        b.plant.set_sensor(0, SensorCondition.OPEN)
        b.run(3 * SAMPLE_S)
        b.plant.set_sensor(0, SensorCondition.OK)
        b.run(SAMPLE_S)
    assert not b.c.faults, "three bad samples, one good: the count starts again"

def test_overtemp_turns_every_heater_off() -> None:
    b = Board(tmax_c=60.0, speed=50.0, hb_ms=60_000)
    b.req("TEL", ms="100")
    b.req("OUT", d0="1000", d1="300")
    tel = b.run(10.0, step=0.01)
    assert b.c.faults == {Fault.OVERTEMP: 0}
    assert b.c.applied == [0, 0, 0]
    last = parse_telemetry([f for f in tel if f.verb == "TEL"][-1])
    assert last.outputs_permille == (0, 0, 0) and last.fault is Fault.OVERTEMP


def test_stuck_heater_runs_away_and_the_board_latches_overtemp() -> None:
    b = Board(tmax_c=80.0, speed=100.0, hb_ms=60_000)
    b.req("OUT", d0="0")
    b.plant.set_heater(2, HeaterCondition.STUCK)
    b.run(10.0, step=0.01)
    assert b.c.faults == {Fault.OVERTEMP: 2}
    assert b.c.applied == [0, 0, 0]
    assert b.plant.heater_power_w(2) > 0, "a welded relay is beyond the board's reach"


def test_reset_clears_everything_and_announces_boot() -> None:
    b = Board()
    b.req("OUT", d0="100")
    b.req("TEL", ms="50")
    b.req("ESTOP")
    assert b.c.boot(b.now) == [Frame(None, "BOOT", {"fw": "1.0.0-sim"})]
    assert (b.c.applied, b.c.faults, b.c.tel_ms, b.c.last_rx) == ([0, 0, 0], {}, 0, None)


def test_telemetry_period_counter_wrap_and_line_length() -> None:
    b = Board(zones=8)
    b.req("TEL", ms="100")
    b.c.tel_n = 65534
    tel = [f for f in b.run(0.52) if f.verb == "TEL"]
    assert [parse_telemetry(f).n for f in tel] == [65534, 65535, 0, 1, 2]
    # Worst case of a healthy 8-zone board: every field at its longest.
    b.req("OUT", **{f"d{i}": "1000" for i in range(8)})
    b.c.tel_n = 65535
    b.c.boot_time = b.now - (2**32 - 1) / 1000
    b.c.readings = [299.99] * 8
    b.plant.rpm = 200.0
    frame = b.c.telemetry_frame(b.now)
    assert len(encode_frame(frame)) <= MAX_LINE_BYTES
    decoded = FrameDecoder(HOST_RX_VERBS).feed(encode_frame(frame))
    tel = parse_telemetry(decoded[0])
    assert tel.up_ms >= 2**32 - 10 and tel.outputs_permille == (1000,) * 8
    assert tel.temps_c == (300.0,) * 8, "one decimal when two do not fit"


def test_failed_sensor_is_reported_as_marker() -> None:
    b = Board()
    b.req("TEL", ms="50")
    b.plant.set_sensor(0, SensorCondition.SHORT)
    tel = [parse_telemetry(f) for f in b.run(0.2) if f.verb == "TEL"]
    assert tel[-1].temps_c[0] is SensorFailure.SHORT


def run_timed(b: Board, seconds: float, step: float = 0.001) -> list[tuple[float, Frame]]:
    """Like ``Board.run`` but keeps the (fake) time of each TEL."""
    out: list[tuple[float, Frame]] = []
    end = b.now + seconds
    while b.now < end - 1e-9:
        b.now += step
        out += [(b.now, f) for f in b.c.tick(b.now) if f.verb == "TEL"]
    return out


def test_drifting_clock_stretches_the_tel_period_and_jitter_does_not_accumulate() -> None:
    b = Board(hb_ms=60_000)
    b.c.tel_clock.set_drift(4.0, b.now)
    b.req("TEL", ms="100")
    tel = run_timed(b, 20.05)
    times = [t for t, _ in tel]
    intervals = [(y - x) * 1000 for x, y in zip(times, times[1:])]
    assert len(tel) == 192 and all(103.0 <= i <= 105.0 for i in intervals), "100 ms on a clock 4 % slow"
    ups = [parse_telemetry(f).up_ms for _, f in tel]
    assert {y - x for x, y in zip(ups, ups[1:])} <= {99, 100, 101}, "the board's own uptime counts 100 ms"

    b.c.tel_clock.set_jitter(10.0)
    tel = run_timed(b, 20.8)
    times = [t for t, _ in tel]
    intervals = [(y - x) * 1000 for x, y in zip(times, times[1:])]
    assert all(104 - 20 - 1.01 <= i <= 104 + 20 + 1.01 for i in intervals), "each frame within 10 ms of its slot"
    assert max(intervals) - min(intervals) > 30, "and it does move"
    assert sum(intervals) / len(intervals) == pytest.approx(104.0, abs=0.15), "no drift from jitter"
    ns = [parse_telemetry(f).n for _, f in tel]
    assert ns == list(range(ns[0], ns[0] + len(ns)))
    stats = b.c.tel_clock.stats.summary()
    assert stats["count"] == len(intervals) and stats["mean"] == pytest.approx(104.0, abs=0.15)


def test_the_heartbeat_and_uptime_run_on_the_board_clock() -> None:
    b = Board(hb_ms=1000)
    b.c.tel_clock.set_drift(10.0, b.now)
    b.req("OUT", d0="700")
    b.run(1.05)
    assert b.c.applied == [700, 0, 0], "1.05 real s is only 955 board ms"
    b.run(0.06)
    assert b.c.fault is Fault.HOST_TIMEOUT
    assert 940 <= int(b.req("PING").fields["up"]) <= 1020, "up counts board ms"
    b.c.tel_clock.set_drift(0.0, b.now)
    up = int(b.req("PING").fields["up"])
    b.run(1.0)
    assert int(b.req("PING").fields["up"]) - up == pytest.approx(1000, abs=6), "back on time, no jump"
