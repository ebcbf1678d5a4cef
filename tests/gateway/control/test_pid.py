"""ZonePid maths: terms, derivative on measurement, anti-windup, functional range, ramp."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.control.pid import PidGains, PidSettings, ZonePid

DT = 0.1


def pid(kp: float = 0.0, ki: float = 0.0, kd: float = 0.0, **kw: float) -> ZonePid:
    settings = {"derivative_filter_s": 0.0, "functional_range_c": 50.0, **kw}
    return ZonePid(PidSettings(PidGains(kp, ki, kd), **settings))


def test_proportional_term_is_gain_times_error() -> None:
    p = pid(kp=0.05)
    assert p.update(200.0, 190.0, 0.0) == pytest.approx(0.5)
    assert p.terms.p == pytest.approx(0.5)
    assert p.update(200.0, 200.0, DT) == 0.0


def test_integral_accumulates_error_times_time() -> None:
    p = pid(ki=0.01)
    p.update(200.0, 195.0, 0.0)  # first call: no dt yet, nothing integrated
    assert p.terms.i == 0.0
    for k in range(1, 11):
        p.update(200.0, 195.0, k * DT)
    # 10 periods * 0.1 s * 5 degC * 0.01 = 0.05
    assert p.terms.i == pytest.approx(0.05)
    assert p.terms.output == pytest.approx(0.05)


def test_derivative_acts_on_measurement_and_opposes_a_rise() -> None:
    p = pid(kd=1.0)
    p.update(200.0, 190.0, 0.0)
    out = p.update(200.0, 190.5, DT)  # rising 5 degC/s
    assert p.terms.d == pytest.approx(-5.0)
    assert out == 0.0


def test_no_derivative_kick_on_a_setpoint_change() -> None:
    p = pid(kp=0.02, kd=2.0)
    for k in range(5):
        p.update(190.0, 185.0, k * DT)
    before = p.terms
    p.update(195.0, 185.0, 5 * DT)  # setpoint jumps, temperature steady
    assert p.terms.d == pytest.approx(0.0)
    assert before.d == pytest.approx(0.0)
    assert p.terms.p == pytest.approx(0.02 * 10.0)


def test_derivative_filter_smooths_a_noisy_measurement() -> None:
    raw = pid(kd=1.0)
    filtered = pid(kd=1.0, derivative_filter_s=2.0)
    peaks_raw, peaks_filtered = [], []
    for k in range(200):
        temp = 195.0 + (0.1 if k % 2 else -0.1)  # +-0.1 degC alternating noise, no real change
        raw.update(200.0, temp, k * DT)
        filtered.update(200.0, temp, k * DT)
        peaks_raw.append(abs(raw.terms.d))
        peaks_filtered.append(abs(filtered.terms.d))
    assert max(peaks_raw[10:]) == pytest.approx(2.0)  # 0.2 degC / 0.1 s
    assert max(peaks_filtered[50:]) < 0.1


def test_anti_windup_integral_does_not_grow_while_the_output_is_saturated() -> None:
    p = pid(kp=0.2, ki=0.01)
    for k in range(600):  # one minute 8 degC below, P alone saturates the output
        out = p.update(200.0, 192.0, k * DT)
        assert out == 1.0
    assert p.terms.i == 0.0
    # Once at the setpoint the output follows P + I at once, with no wound-up integral to unwind.
    assert p.update(200.0, 200.0, 600 * DT) == 0.0


def test_integral_is_clamped_to_the_limit() -> None:
    p = pid(ki=1.0, integral_limit=0.4)
    for k in range(100):
        p.update(200.0, 199.0, k * DT)
    assert p.terms.i == pytest.approx(0.4)
    assert p.terms.output == pytest.approx(0.4)


def test_integral_never_goes_negative() -> None:
    p = pid(ki=0.05)
    for k in range(100):
        p.update(200.0, 205.0, k * DT)
    assert p.terms.i == 0.0


def test_functional_range_full_on_below_and_off_above() -> None:
    p = ZonePid(PidSettings(PidGains(0.01, 0.001, 0.0), functional_range_c=10.0))
    assert p.update(200.0, 189.0, 0.0) == 1.0
    assert p.terms.saturated
    assert p.update(200.0, 211.0, DT) == 0.0
    # Inside the range: P (0.01 * 5) plus one period of integral (0.001 * 5 * 0.1).
    assert p.update(200.0, 195.0, 2 * DT) == pytest.approx(0.05 + 0.0005)


def test_integral_is_dropped_outside_the_functional_range() -> None:
    p = ZonePid(PidSettings(PidGains(0.0, 0.01, 0.0), functional_range_c=10.0))
    for k in range(100):
        p.update(200.0, 195.0, k * DT)
    assert p.terms.i > 0.0
    p.update(200.0, 250.0, 100 * DT)
    assert p.terms.i == 0.0


def test_setpoint_none_turns_off_and_resets() -> None:
    p = pid(kp=0.1, ki=0.01)
    for k in range(10):
        p.update(200.0, 195.0, k * DT)
    assert p.update(None, 195.0, 1.0) == 0.0
    assert p.effective_setpoint_c is None
    assert p.terms.i == 0.0


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_temperature_gives_zero(bad: float) -> None:
    p = pid(kp=0.1)
    assert p.update(200.0, bad, 0.0) == 0.0


def test_ramp_limits_the_effective_setpoint() -> None:
    p = pid(kp=0.1, ramp_c_per_s=2.0)
    p.update(200.0, 25.0, 0.0)
    assert p.effective_setpoint_c == 25.0  # a ramp starts where the zone is
    for k in range(1, 51):
        p.update(200.0, 25.0, k * DT)
    assert p.effective_setpoint_c == pytest.approx(35.0)  # 5 s at 2 degC/s
    for k in range(51, 2000):
        p.update(200.0, 25.0, k * DT)
    assert p.effective_setpoint_c == 200.0


def test_ramp_applies_a_lower_setpoint_at_once() -> None:
    p = pid(kp=0.1, ramp_c_per_s=1.0)
    p.update(200.0, 25.0, 0.0)
    for k in range(1, 100):
        p.update(200.0, 25.0, k * DT)
    p.update(30.0, 25.0, 10.0)
    assert p.effective_setpoint_c == 30.0


def test_without_ramp_the_setpoint_applies_at_once() -> None:
    p = pid(kp=0.1)
    p.update(200.0, 25.0, 0.0)
    assert p.effective_setpoint_c == 200.0


def test_set_gains_keeps_state_and_reset_forgets_it() -> None:
    p = pid(ki=0.01)
    for k in range(10):
        p.update(200.0, 195.0, k * DT)
    i = p.terms.i
    p.set_gains(PidGains(0.0, 0.02, 0.0))
    assert p.settings.gains.ki == 0.02
    p.update(200.0, 195.0, 10 * DT)
    assert p.terms.i == pytest.approx(i + 0.02 * 5.0 * DT)
    p.reset()
    p.update(200.0, 195.0, 11 * DT)
    assert p.terms.i == 0.0


def test_time_going_backwards_integrates_nothing() -> None:
    p = pid(ki=0.01)
    p.update(200.0, 195.0, 10.0)
    p.update(200.0, 195.0, 9.0)
    assert p.terms.i == 0.0


@pytest.mark.parametrize(
    "kw",
    [{"derivative_filter_s": -1.0}, {"functional_range_c": 0.0}, {"integral_limit": 2.0}, {"ramp_c_per_s": -1.0}],
)
def test_settings_are_validated(kw: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        PidSettings(**kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("gains", [(-0.1, 0.0, 0.0), (0.0, math.nan, 0.0), (0.0, 0.0, math.inf)])
def test_gains_are_validated(gains: tuple[float, float, float]) -> None:
    with pytest.raises(ValueError):
        PidGains(*gains)


@given(
    temps=st.lists(st.floats(-50.0, 500.0), min_size=1, max_size=60),
    setpoint=st.one_of(st.none(), st.floats(0.0, 400.0)),
    kp=st.floats(0.0, 5.0),
    ki=st.floats(0.0, 1.0),
    kd=st.floats(0.0, 50.0),
)
def test_output_is_always_within_0_and_1(
    temps: list[float], setpoint: float | None, kp: float, ki: float, kd: float
) -> None:
    p = ZonePid(PidSettings(PidGains(kp, ki, kd), ramp_c_per_s=1.0))
    for k, temp in enumerate(temps):
        out = p.update(setpoint, temp, k * DT)
        assert 0.0 <= out <= 1.0
        assert 0.0 <= p.terms.i <= 1.0


@given(
    ramp=st.floats(0.01, 10.0),
    steps=st.lists(
        st.tuples(st.floats(0.0, 400.0), st.floats(0.0, 400.0), st.floats(0.01, 2.0)), min_size=2, max_size=40
    ),
)
def test_effective_setpoint_never_climbs_faster_than_the_ramp(
    ramp: float, steps: list[tuple[float, float, float]]
) -> None:
    p = ZonePid(PidSettings(ramp_c_per_s=ramp))
    now = 0.0
    previous: float | None = None
    for setpoint, temp, dt in steps:
        now += dt
        p.update(setpoint, temp, now)
        eff = p.effective_setpoint_c
        assert eff is not None and eff <= setpoint
        if previous is not None:
            assert eff - previous <= ramp * dt + 1e-9
        previous = eff
