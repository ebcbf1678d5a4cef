"""Relay autotune: relay switching, bias adaptation, gain rules, and safe aborts.

The end-to-end result on the simulator's plant (gains that meet the regulation bounds) is in
``test_regulation.py``; here the autotune runs against small deterministic plants.
"""

from __future__ import annotations

import math

import pytest

from gateway.control.autotune import (
    AutotuneSettings,
    AutotuneStatus,
    RelayAutotune,
    gains_from_ultimate,
)
from gateway.control.const import AUTOTUNE_MAX_CYCLES

DT = 0.1


class DelayedIntegrator:
    """Temperature rises ``gain * (u - hold)`` degC/s, seen ``delay_s`` late (no noise)."""

    def __init__(self, gain: float, hold: float, delay_s: float, start_c: float = 25.0) -> None:
        self.gain, self.hold = gain, hold
        self.temp = start_c
        self._queue = [0.0] * max(1, round(delay_s / DT))

    def step(self, output: float) -> float:
        self._queue.append(output)
        applied = self._queue.pop(0)
        self.temp += self.gain * (applied - self.hold) * DT
        return self.temp


def drive(tuner: RelayAutotune, plant: DelayedIntegrator, limit_s: float = 20000.0) -> list[float]:
    outputs = []
    temp = plant.temp
    t = 0.0
    while tuner.status is AutotuneStatus.RUNNING and t < limit_s:
        out = tuner.step(t, temp)
        outputs.append(out)
        temp = plant.step(out)
        t += DT
    return outputs


def test_relay_on_below_and_off_above_the_hysteresis_band() -> None:
    tuner = RelayAutotune(AutotuneSettings(100.0, hysteresis_c=1.0), 0.0)
    assert tuner.step(0.0, 50.0) == 1.0  # bias 0.5 + d 0.5
    assert tuner.step(0.1, 100.9) == 1.0  # inside the band: keeps heating
    assert tuner.step(0.2, 101.1) == 0.0  # above the band: bias - d
    assert tuner.step(0.3, 99.5) == 0.0
    assert tuner.step(0.4, 98.9) > 0.0


def test_bias_adapts_to_the_holding_output_and_the_oscillation_becomes_symmetric() -> None:
    plant = DelayedIntegrator(gain=2.0, hold=0.3, delay_s=3.0)
    tuner = RelayAutotune(AutotuneSettings(100.0, hysteresis_c=0.2), 0.0)
    drive(tuner, plant)
    assert tuner.status is AutotuneStatus.DONE, tuner.abort_reason
    result = tuner.result
    assert result is not None
    assert result.bias == pytest.approx(0.3, abs=0.02)
    assert tuner.d == pytest.approx(0.3, abs=0.02)
    # Integrator k behind dead time L with relay d: period 4L, amplitude k*d*L (+ hysteresis).
    assert result.tu_s == pytest.approx(4 * 3.0 + 4 * 0.2 / (2.0 * 0.3), rel=0.15)
    expected_ku = 4 * result.bias / (math.pi * math.sqrt(result.amplitude_c**2 - 0.2**2))
    assert result.ku == pytest.approx(expected_ku, rel=0.1)
    assert result.cycles == 5


def test_gain_rules() -> None:
    classic, no_overshoot, tyreus_luyben = gains_from_ultimate(0.5, 20.0)
    assert (classic.kp, classic.ki, classic.kd) == pytest.approx((0.3, 0.03, 0.75))
    assert (no_overshoot.kp, no_overshoot.ki, no_overshoot.kd) == pytest.approx((0.1, 0.01, 2.0 / 3.0))
    assert tyreus_luyben.kp == pytest.approx(0.225)
    assert tyreus_luyben.ki == pytest.approx(0.225 / 44.0)
    assert tyreus_luyben.kd == pytest.approx(0.225 * 20.0 / 6.3)


def test_result_recommends_the_tyreus_luyben_gains() -> None:
    tuner = RelayAutotune(AutotuneSettings(100.0), 0.0)
    drive(tuner, DelayedIntegrator(gain=2.0, hold=0.4, delay_s=2.0))
    assert tuner.result is not None
    assert tuner.result.recommended == tuner.result.gains_tyreus_luyben
    assert tuner.progress == (5, 5)


def test_aborts_on_overshoot_with_output_off() -> None:
    tuner = RelayAutotune(AutotuneSettings(100.0, overshoot_margin_c=10.0), 0.0)
    assert tuner.step(0.0, 100.0) > 0
    assert tuner.step(0.1, 110.5) == 0.0
    assert tuner.status is AutotuneStatus.ABORTED
    assert tuner.abort_reason is not None and "overshoot" in tuner.abort_reason
    assert tuner.step(0.2, 50.0) == 0.0, "stays off once aborted"
    assert tuner.result is None


def test_aborts_above_the_zone_max() -> None:
    tuner = RelayAutotune(AutotuneSettings(100.0, overshoot_margin_c=30.0, max_c=105.0), 0.0)
    assert tuner.step(0.0, 106.0) == 0.0
    assert tuner.abort_reason is not None and "zone max" in tuner.abort_reason


def test_aborts_on_timeout() -> None:
    tuner = RelayAutotune(AutotuneSettings(100.0, timeout_s=60.0), 0.0)
    assert tuner.step(59.9, 30.0) == 1.0
    assert tuner.step(60.1, 30.0) == 0.0
    assert tuner.status is AutotuneStatus.ABORTED and "timeout" in (tuner.abort_reason or "")


def test_aborts_on_a_dead_heater_by_timeout() -> None:
    plant = DelayedIntegrator(gain=0.0, hold=0.0, delay_s=1.0)
    tuner = RelayAutotune(AutotuneSettings(100.0, timeout_s=300.0), 0.0)
    outputs = drive(tuner, plant)
    assert tuner.status is AutotuneStatus.ABORTED and outputs[-1] == 0.0


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_aborts_on_a_non_finite_reading(bad: float) -> None:
    tuner = RelayAutotune(AutotuneSettings(100.0), 0.0)
    assert tuner.step(0.0, bad) == 0.0
    assert tuner.status is AutotuneStatus.ABORTED


def test_abort_from_outside() -> None:
    tuner = RelayAutotune(AutotuneSettings(100.0), 0.0)
    tuner.abort("e-stop")
    assert tuner.step(0.0, 30.0) == 0.0 and tuner.abort_reason == "e-stop"
    tuner.abort("later")
    assert tuner.abort_reason == "e-stop"


def test_gives_up_when_the_oscillation_never_becomes_symmetric() -> None:
    # Holding needs more than the relay can give (hold 0.99 of output_max 1.0): never symmetric.
    plant = DelayedIntegrator(gain=5.0, hold=0.99, delay_s=1.0, start_c=100.0)
    tuner = RelayAutotune(AutotuneSettings(100.0, hysteresis_c=0.2), 0.0)
    drive(tuner, plant, limit_s=10000.0)
    assert tuner.status is AutotuneStatus.ABORTED
    assert tuner.cycles_seen == AUTOTUNE_MAX_CYCLES


@pytest.mark.parametrize(
    "kw",
    [
        {"target_c": math.nan},
        {"output_max": 0.0},
        {"output_max": 1.5},
        {"hysteresis_c": -1.0},
        {"cycles": 0},
        {"overshoot_margin_c": 0.1},
        {"timeout_s": 0.0},
        {"max_c": 100.0},
    ],
)
def test_settings_are_validated(kw: dict[str, float]) -> None:
    args = {"target_c": 100.0, **kw}
    with pytest.raises(ValueError):
        AutotuneSettings(**args)  # type: ignore[arg-type]
