"""Safety supervisor: every fault class trips, turns the right heaters off, latches, and only a
reset clears it, and only once its cause is gone."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge.telemetry import Fault, SensorFailure
from gateway.control.safety import (
    SEVERITY,
    FaultCode,
    Reading,
    SafetySupervisor,
    Severity,
    SupervisorInput,
    Verdict,
    ZoneInput,
    ZoneSafetyRules,
    ZoneState,
)

PERIOD_S = 0.1
STALE_AFTER_S = 1.0
"""The link's loss window (1000 ms or 5 telemetry periods)."""
STALE_PERIODS = round(STALE_AFTER_S / PERIOD_S)
ZONES = 3
RULES = ZoneSafetyRules(max_c=280.0)


class Bench:
    """Three zones fed period by period; each zone's reading and setpoint settable."""

    def __init__(self) -> None:
        self.sup = SafetySupervisor([RULES] * ZONES, STALE_AFTER_S)
        self.now_s = 0.0
        self.readings: list[Reading] = [25.0] * ZONES
        self.setpoints: list[float | None] = [None] * ZONES
        self.effective: list[float | None] = [None] * ZONES
        self.fresh = [True] * ZONES
        self.sample_at: list[float | None] = [None] * ZONES
        self.link_up = True
        self.controller_fault = "none"
        self.estop = False
        self.verdict: Verdict | None = None

    def step(self, n: int = 1) -> Verdict:
        for _ in range(n):
            self.now_s = round(self.now_s + PERIOD_S, 6)
            for z in range(ZONES):
                if self.fresh[z]:
                    self.sample_at[z] = self.now_s
            zones = [
                ZoneInput(self.readings[z], self.sample_at[z], self.setpoints[z], self.effective[z])
                for z in range(ZONES)
            ]
            inp = SupervisorInput(zones, self.link_up, self.controller_fault, self.estop)
            self.verdict = self.sup.step(inp, self.now_s)
        assert self.verdict is not None
        return self.verdict

    def run_for(self, seconds: float) -> Verdict:
        return self.step(round(seconds / PERIOD_S))

    def hold(self, zone: int, setpoint: float) -> None:
        """Bring ``zone`` to holding at ``setpoint``."""
        self.setpoints[zone] = setpoint
        self.readings[zone] = setpoint
        self.step(2)
        assert self.step().zone_states[zone] is ZoneState.HOLDING


@pytest.fixture
def bench() -> Bench:
    b = Bench()
    for z in range(ZONES):
        b.hold(z, 200.0)
    v = b.step()
    assert v.heater_allowed == (True, True, True) and v.motor_allowed and v.interlock_on and not v.faults
    return b


def assert_zone_fault(v: Verdict, zone: int, code: FaultCode) -> None:
    assert v.heater_allowed[zone] is False
    assert v.zone_states[zone] is ZoneState.FAULT
    assert [f.code for f in v.faults if f.zone == zone] == [code]
    others = [z for z in range(ZONES) if z != zone]
    assert all(v.heater_allowed[z] for z in others), "a zone fault leaves the other zones on"
    assert v.motor_allowed is False
    assert v.interlock_on is False


def assert_severe(v: Verdict, code: FaultCode) -> None:
    assert code in {f.code for f in v.faults}
    assert v.heater_allowed == (False,) * ZONES
    assert v.zone_states == (ZoneState.FAULT,) * ZONES
    assert v.motor_allowed is False
    assert v.interlock_on is False


def test_severity_table_covers_every_fault() -> None:
    assert set(SEVERITY) == set(FaultCode)
    assert {c for c, s in SEVERITY.items() if s is Severity.SEVERE} == {
        FaultCode.OVERTEMP,
        FaultCode.RUNAWAY,
        FaultCode.LINK_LOST,
        FaultCode.CONTROLLER_FAULT,
        FaultCode.CONTROLLER_RESET,
        FaultCode.ESTOP,
    }


def test_nothing_latches_before_the_first_sample_but_heaters_stay_off() -> None:
    b = Bench()
    b.fresh = [False] * ZONES
    b.readings = [None] * ZONES
    b.link_up = False
    v = b.run_for(10.0)
    assert v.faults == ()
    assert v.heater_allowed == (False,) * ZONES
    assert v.motor_allowed is False
    assert v.interlock_on is True


@pytest.mark.parametrize(
    ("reading", "code"),
    [
        (SensorFailure.OPEN, FaultCode.SENSOR_OPEN),
        (SensorFailure.SHORT, FaultCode.SENSOR_SHORT),
        (math.nan, FaultCode.SENSOR_INVALID),
        (math.inf, FaultCode.SENSOR_INVALID),
    ],
)
def test_sensor_faults_trip_the_zone_in_one_period_and_latch(bench: Bench, reading: Reading, code: FaultCode) -> None:
    bench.readings[1] = reading
    v = bench.step()
    assert_zone_fault(v, 1, code)
    assert [f.code for f in v.new_faults] == [code]
    assert v.zone_fault(1) is not None and v.zone_fault(1).code is code  # type: ignore[union-attr]

    refused = bench.sup.reset(bench.now_s)
    assert refused.cleared == () and "sensor still reads" in refused.refused[0][1]

    bench.readings[1] = 200.0  # cause gone: still latched until a reset
    v = bench.run_for(5.0)
    assert_zone_fault(v, 1, code)
    assert v.new_faults == ()
    result = bench.sup.reset(bench.now_s)
    assert [f.code for f in result.cleared] == [code] and result.refused == ()
    v = bench.step(2)
    assert v.heater_allowed == (True,) * ZONES and v.interlock_on and v.motor_allowed


def test_stale_reading_trips_after_the_loss_window(bench: Bench) -> None:
    bench.fresh[2] = False
    v = bench.step(STALE_PERIODS)
    assert v.faults == (), "exactly the loss window without a sample is still fresh"
    v = bench.step()
    assert_zone_fault(v, 2, FaultCode.STALE)
    assert bench.sup.reset(bench.now_s).refused[0][1] == "still no fresh temperature"
    bench.fresh[2] = True
    bench.step()
    assert [f.code for f in bench.sup.reset(bench.now_s).cleared] == [FaultCode.STALE]


def test_a_few_lost_frames_are_not_stale_only_the_whole_window_is() -> None:
    sup = SafetySupervisor([RULES], 1.25)  # 250 ms telemetry: 5 periods are longer than 1000 ms
    zone = [ZoneInput(200.0, 0.0, 200.0)]
    assert sup.step(SupervisorInput(zone, link_up=True), 0.9).faults == (), "3 of 4 frames lost is not stale"
    assert sup.step(SupervisorInput(zone, link_up=True), 1.25).faults == ()
    assert [f.code for f in sup.step(SupervisorInput(zone, link_up=True), 1.26).faults] == [FaultCode.STALE]
    with pytest.raises(ValueError):
        SafetySupervisor([RULES], 0.0)


def test_a_link_re_handshaking_after_a_reset_is_not_lost(bench: Bench) -> None:
    bench.step()
    zones = [ZoneInput(25.0, bench.now_s, None)] * ZONES
    v = bench.sup.step(SupervisorInput(zones, link_up=False, link_lost=False), bench.now_s + 0.1)
    assert v.faults == () and v.heater_allowed == (False,) * ZONES, "not up: heaters off, but not lost"
    v = bench.sup.step(SupervisorInput(zones, link_up=False, link_lost=True), bench.now_s + 0.2)
    assert_severe(v, FaultCode.LINK_LOST)


def test_controller_reset_stays_until_the_board_is_back(bench: Bench) -> None:
    for zone in range(ZONES):
        bench.sup.trip(FaultCode.CONTROLLER_RESET, bench.now_s, zone, "controller restarted")
    bench.link_up = False
    v = bench.step()
    assert_severe(v, FaultCode.CONTROLLER_RESET)
    assert [f.zone for f in v.faults if f.code is FaultCode.CONTROLLER_RESET] == [0, 1, 2]
    assert {r for _, r in bench.sup.reset(bench.now_s).refused} == {"controller not back yet", "link still down"}
    bench.link_up = True
    bench.step()
    assert len(bench.sup.reset(bench.now_s).cleared) == ZONES + 1
    assert bench.step().interlock_on


def test_overtemp_turns_everything_off(bench: Bench) -> None:
    bench.readings[0] = 280.5
    v = bench.step()
    assert_severe(v, FaultCode.OVERTEMP)
    assert v.zone_fault(2) is not None and v.zone_fault(2).code is FaultCode.OVERTEMP  # type: ignore[union-attr]
    result = bench.sup.reset(bench.now_s)
    assert result.cleared == () and "max 280" in result.refused[0][1]
    bench.readings[0] = 279.0
    bench.step()
    assert [f.code for f in bench.sup.reset(bench.now_s).cleared] == [FaultCode.OVERTEMP]
    assert bench.step().interlock_on


def test_runaway_after_the_protection_period_while_holding(bench: Bench) -> None:
    bench.readings[0] = 195.0  # 5 degC below: beyond the 4 degC hysteresis
    v = bench.run_for(40.0)
    assert v.faults == (), "not before the 40 s protection period has passed"
    v = bench.run_for(0.5)
    assert_severe(v, FaultCode.RUNAWAY)
    assert bench.sup.faults[0].zone == 0
    # The other zones cool with their heaters off: no cascade of runaways.
    bench.readings = [150.0] * ZONES
    v = bench.run_for(120.0)
    assert [f.code for f in v.faults] == [FaultCode.RUNAWAY]
    assert [f.code for f in bench.sup.reset(bench.now_s).cleared] == [FaultCode.RUNAWAY]
    v = bench.step(2)
    assert v.interlock_on and v.zone_states[0] is ZoneState.HEATING


def test_sagging_within_the_hysteresis_or_recovering_in_time_is_no_runaway(bench: Bench) -> None:
    bench.readings[0] = 196.5  # within 4 degC
    assert bench.run_for(100.0).faults == ()
    for _ in range(5):  # repeatedly below the band for 30 s, then back
        bench.readings[0] = 190.0
        bench.run_for(30.0)
        bench.readings[0] = 199.0
        bench.run_for(1.0)
    assert bench.step().faults == ()


def test_heating_failure_when_the_zone_does_not_rise(bench: Bench) -> None:
    bench.setpoints[1] = 250.0  # raise far above: heating
    v = bench.step()
    assert v.zone_states[1] is ZoneState.HEATING
    v = bench.run_for(19.5)
    assert v.faults == ()
    v = bench.run_for(1.0)  # no rise at all within the 20 s watch period
    assert_zone_fault(v, 1, FaultCode.HEATING_FAILED)
    # Cause (not measurable) is judged gone when the sensor reads: reset clears, the watch re-arms.
    assert [f.code for f in bench.sup.reset(bench.now_s).cleared] == [FaultCode.HEATING_FAILED]
    v = bench.run_for(10.0)
    assert v.faults == () and v.zone_states[1] is ZoneState.HEATING
    v = bench.run_for(15.0)
    assert [f.code for f in v.faults] == [FaultCode.HEATING_FAILED]


def test_no_heating_failure_while_the_zone_rises(bench: Bench) -> None:
    bench.setpoints[1] = 250.0
    for _ in range(600):  # 60 s at 0.15 degC/s: 3 degC per watch period
        bench.readings[1] = float(bench.readings[1]) + 0.015  # type: ignore[arg-type]
        v = bench.step()
    assert v.faults == () and v.zone_states[1] is ZoneState.HEATING


def test_the_last_degrees_before_the_band_are_not_judged_but_a_fall_is(bench: Bench) -> None:
    bench.setpoints[1] = 210.0  # band from 206: 200 -> 204.5 has less than 2 degC left to go
    bench.readings[1] = 204.5
    v = bench.run_for(60.0)  # crawling (here: flat) in the last degrees is no heating failure
    assert v.faults == () and v.zone_states[1] is ZoneState.HEATING
    bench.readings[1] = 203.0  # falling away from the band while heating is
    v = bench.run_for(41.0)
    assert_zone_fault(v, 1, FaultCode.HEATING_FAILED)


def test_a_slow_ramp_is_followed_without_a_false_heating_failure() -> None:
    b = Bench()
    b.setpoints[0], b.readings[0], b.effective[0] = 200.0, 25.0, 25.0
    for _ in range(6000):  # 10 minutes of a 0.02 degC/s ramp, the zone lagging 5 degC behind
        b.effective[0] = min(200.0, float(b.effective[0]) + 0.002)  # type: ignore[arg-type]
        b.readings[0] = float(b.effective[0]) - 5.0  # type: ignore[arg-type]
        v = b.step()
    assert v.faults == ()


def test_a_ramp_whose_first_period_has_no_effective_setpoint_yet_is_followed() -> None:
    """The loop passes the PID's effective setpoint of the previous period: ``None`` at first."""
    b = Bench()
    assert b.step(5).heater_allowed[0], "zone ready, no setpoint yet"
    b.setpoints[0], b.readings[0], b.effective[0] = 200.0, 25.0, None
    assert b.step().zone_states[0] is ZoneState.HEATING
    b.effective[0] = 25.0
    for _ in range(6000):
        b.effective[0] = min(200.0, float(b.effective[0]) + 0.002)  # type: ignore[arg-type]
        b.readings[0] = float(b.effective[0]) - 5.0  # type: ignore[arg-type]
        v = b.step()
    assert v.faults == ()


def test_a_dead_heater_during_a_fast_ramp_is_caught() -> None:
    b = Bench()
    b.setpoints[0], b.readings[0], b.effective[0] = 200.0, 25.0, 25.0
    for _ in range(300):  # 1 degC/s ramp, temperature stuck
        b.effective[0] = min(200.0, float(b.effective[0]) + 0.1)  # type: ignore[arg-type]
        v = b.step()
    assert_zone_fault(v, 0, FaultCode.HEATING_FAILED)


def test_raising_the_setpoint_while_holding_is_heating_not_runaway(bench: Bench) -> None:
    bench.setpoints[2] = 220.0
    bench.readings[2] = 200.0
    states = []
    for _ in range(1200):  # 120 s at 0.2 degC/s: well past the 40 s runaway period below the band
        bench.readings[2] = min(220.0, float(bench.readings[2]) + 0.02)  # type: ignore[arg-type]
        v = bench.step()
        states.append(v.zone_states[2])
    assert v.faults == ()
    assert states[0] is ZoneState.HEATING and states[-1] is ZoneState.HOLDING


def test_lowering_the_setpoint_is_holding_while_cooling(bench: Bench) -> None:
    bench.setpoints[0] = 150.0
    v = bench.run_for(60.0)
    assert v.faults == () and v.zone_states[0] is ZoneState.HOLDING


def test_setpoint_off_is_state_off(bench: Bench) -> None:
    bench.setpoints[0] = None
    bench.readings[0] = 30.0
    v = bench.run_for(100.0)
    assert v.zone_states[0] is ZoneState.OFF and v.faults == ()


def test_link_lost_is_severe_and_clears_once_back(bench: Bench) -> None:
    bench.link_up = False
    v = bench.step()
    assert_severe(v, FaultCode.LINK_LOST)
    assert "link still down" in bench.sup.reset(bench.now_s).refused[0][1]
    bench.link_up = True
    bench.step()
    assert [f.code for f in bench.sup.reset(bench.now_s).cleared] == [FaultCode.LINK_LOST]
    assert bench.step().interlock_on


def test_link_down_before_it_was_ever_up_is_not_a_fault() -> None:
    b = Bench()
    b.link_up = False
    v = b.run_for(5.0)
    assert v.faults == () and v.heater_allowed == (False,) * ZONES and not v.motor_allowed


@pytest.mark.parametrize("fault", [f for f in Fault if f is not Fault.NONE])
def test_any_controller_fault_is_severe(bench: Bench, fault: Fault) -> None:
    bench.controller_fault = fault
    v = bench.step()
    assert_severe(v, FaultCode.CONTROLLER_FAULT)
    assert fault.value in v.faults[0].detail
    result = bench.sup.reset(bench.now_s)
    assert result.cleared == () and "clear it on the controller first" in result.refused[0][1]
    bench.controller_fault = Fault.NONE
    bench.step()
    assert bench.sup.reset(bench.now_s).refused == ()


def test_estop_input_latches_until_released_and_reset(bench: Bench) -> None:
    bench.estop = True
    v = bench.step()
    assert_severe(v, FaultCode.ESTOP)
    assert bench.sup.reset(bench.now_s).refused[0][1] == "e-stop input still active"
    bench.estop = False
    v = bench.run_for(5.0)
    assert_severe(v, FaultCode.ESTOP)
    assert [f.code for f in bench.sup.reset(bench.now_s).cleared] == [FaultCode.ESTOP]
    assert bench.step().interlock_on


def test_trip_from_outside_takes_effect_in_the_current_verdict(bench: Bench) -> None:
    fault = bench.sup.trip(FaultCode.ESTOP, bench.now_s, detail="API e-stop")
    assert fault.detail == "API e-stop"
    assert_severe(bench.sup.current(), FaultCode.ESTOP)
    assert fault is not None
    assert bench.sup.trip(FaultCode.ESTOP, bench.now_s) is None, "tripping again keeps the first"
    assert bench.sup.faults == (fault,)
    assert_severe(bench.step(), FaultCode.ESTOP)
    assert bench.sup.reset(bench.now_s).refused == ()
    assert bench.sup.current().interlock_on
    with pytest.raises(ValueError):
        bench.sup.trip(FaultCode.STALE, bench.now_s, zone=ZONES)


def test_reset_clears_only_what_is_gone_and_reports_the_rest(bench: Bench) -> None:
    bench.readings[0] = SensorFailure.OPEN
    bench.estop = True
    bench.step()
    bench.estop = False
    bench.step()
    result = bench.sup.reset(bench.now_s)
    assert [f.code for f in result.cleared] == [FaultCode.ESTOP]
    assert [(f.code, f.zone) for f, _ in result.refused] == [(FaultCode.SENSOR_OPEN, 0)]
    assert_zone_fault(bench.step(), 0, FaultCode.SENSOR_OPEN)


def test_wrong_zone_count_is_refused() -> None:
    sup = SafetySupervisor([RULES], STALE_AFTER_S)
    with pytest.raises(ValueError):
        sup.step(SupervisorInput([], link_up=True), 0.0)
    with pytest.raises(ValueError):
        SafetySupervisor([], STALE_AFTER_S)


_readings = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.sampled_from([SensorFailure.OPEN, SensorFailure.SHORT, None]),
)
_periods = st.tuples(
    st.lists(_readings, min_size=ZONES, max_size=ZONES),
    st.lists(st.booleans(), min_size=ZONES, max_size=ZONES),
    st.lists(st.one_of(st.none(), st.floats(0.0, 300.0)), min_size=ZONES, max_size=ZONES),
    st.booleans(),
    st.sampled_from(["none", "none", "estop", "sensor"]),
    st.booleans(),
    st.booleans(),
)


@given(st.lists(_periods, min_size=1, max_size=40))
def test_invariants_hold_for_any_input_sequence(periods: list[tuple]) -> None:  # type: ignore[type-arg]
    sup = SafetySupervisor([RULES] * ZONES, STALE_AFTER_S)
    now = 0.0
    for readings, fresh, setpoints, link_up, controller, estop, do_reset in periods:
        now += PERIOD_S
        zones = [ZoneInput(r, now if f else 0.0, s) for r, f, s in zip(readings, fresh, setpoints, strict=True)]
        v = sup.step(SupervisorInput(zones, link_up, controller, estop), now)
        severe = any(f.severity is Severity.SEVERE for f in v.faults)
        assert v.interlock_on == (not v.faults)
        assert not (v.motor_allowed and v.faults)
        for z in range(ZONES):
            if v.heater_allowed[z]:
                assert not severe and not any(f.zone == z for f in v.faults)
                reading = readings[z]
                assert isinstance(reading, float) and math.isfinite(reading) and reading <= RULES.max_c
                assert link_up and controller == "none" and not estop
        if do_reset:
            result = sup.reset(now)
            assert len(result.cleared) + len(result.refused) == len(v.faults)


def test_a_frozen_reading_between_lost_frames_is_not_judged_as_a_failed_heat_up() -> None:
    """A heating zone whose frames are lost for most of the loss window: the heating watch judges
    samples, not periods, so the repeated last value is not "no rise"."""
    rules = ZoneSafetyRules(max_c=280.0, watch_period_s=0.5, watch_increase_c=2.0)
    sup = SafetySupervisor([rules], STALE_AFTER_S)
    temp, now = 25.0, 0.0
    for _ in range(20):  # heating 10 degC/s, a sample every period
        now += PERIOD_S
        temp += 1.0
        v = sup.step(SupervisorInput([ZoneInput(temp, now, 200.0)], link_up=True), now)
    assert v.faults == () and v.zone_states == (ZoneState.HEATING,)
    sample_at = now
    for _ in range(9):  # 0.9 s without a new sample: longer than the watch period, shorter than the window
        now += PERIOD_S
        v = sup.step(SupervisorInput([ZoneInput(temp, sample_at, 200.0)], link_up=True), now)
    assert v.faults == (), [f.detail for f in v.faults]
    now += PERIOD_S
    v = sup.step(SupervisorInput([ZoneInput(temp + 9.0, now, 200.0)], link_up=True), now)
    assert v.faults == (), "the next sample shows the rise"


def test_a_reset_never_clears_a_fault_latched_after_the_last_period(bench: Bench) -> None:
    """A BOOT latched between a period and a reset: the last input still shows the link up, so judging
    the fault against it would clear it unseen."""
    bench.step()
    bench.sup.trip(FaultCode.CONTROLLER_RESET, bench.now_s + 0.05, 0, "controller restarted")
    result = bench.sup.reset(bench.now_s + 0.06)
    assert result.cleared == ()
    assert [r for _, r in result.refused] == ["latched after the last control period; reset again"]
    bench.step()
    assert [f.code for f in bench.sup.reset(bench.now_s).cleared] == [FaultCode.CONTROLLER_RESET]


def test_each_different_controller_fault_is_latched_once(bench: Bench) -> None:
    first = bench.sup.trip(FaultCode.CONTROLLER_FAULT, bench.now_s, 0, "sensor on zone 0", "sensor")
    second = bench.sup.trip(FaultCode.CONTROLLER_FAULT, bench.now_s, 0, "brownout on zone 0", "brownout")
    again = bench.sup.trip(FaultCode.CONTROLLER_FAULT, bench.now_s, 0, "sensor on zone 0", "sensor")
    assert first is not None and second is not None and again is None
    assert len(bench.sup.faults) == 2
