"""Zone control and autotune config models: safe defaults, validation, conversion to the core types."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.control import const
from gateway.control.config import AutotuneConfig, ZoneControlConfig
from gateway.control.pid import PidGains


def test_defaults_are_the_named_constants() -> None:
    zone = ZoneControlConfig()
    assert zone.gains() == PidGains(const.PID_KP_DEFAULT, const.PID_KI_DEFAULT, const.PID_KD_DEFAULT)
    rules = zone.safety_rules()
    assert (rules.runaway_hysteresis_c, rules.runaway_period_s) == (4.0, 40.0)
    assert (rules.watch_increase_c, rules.watch_period_s) == (2.0, 20.0)
    assert rules.max_c == const.ZONE_MAX_C_DEFAULT
    settings = zone.pid_settings()
    assert settings.functional_range_c == const.PID_FUNCTIONAL_RANGE_C
    assert settings.ramp_c_per_s == 0.0


def test_setpoints_stay_a_margin_below_the_max() -> None:
    assert ZoneControlConfig(max_c=250.0).max_setpoint_c == 250.0 - const.SETPOINT_MARGIN_BELOW_MAX_C


def test_every_field_has_a_description() -> None:
    for model in (ZoneControlConfig, AutotuneConfig):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name}"


def test_values_flow_into_the_core_types() -> None:
    zone = ZoneControlConfig(kp=0.2, ki=0.01, kd=1.0, ramp_c_per_s=0.5, max_c=250.0, runaway_period_s=60.0)
    assert zone.pid_settings().gains == PidGains(0.2, 0.01, 1.0)
    assert zone.pid_settings().ramp_c_per_s == 0.5
    assert zone.safety_rules().max_c == 250.0 and zone.safety_rules().runaway_period_s == 60.0
    tune = AutotuneConfig(cycles=3).settings(200.0, max_c=250.0)
    assert (tune.target_c, tune.cycles, tune.max_c) == (200.0, 3, 250.0)


@pytest.mark.parametrize(
    "kw",
    [
        {"kp": -1.0},
        {"max_c": 1000.0},
        {"max_c": 20.0, "runaway_hysteresis_c": 30.0},
        {"max_c": 14.0},
        {"runaway_period_s": 0.0},
        {"watch_increase_c": 0.0},
        {"functional_range_c": 0.0},
        {"integral_limit": 1.5},
        {"unknown_key": 1},
        {"kp": "fast"},
    ],
)
def test_bad_zone_values_are_refused(kw: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ZoneControlConfig(**kw)


@pytest.mark.parametrize("kw", [{"cycles": 1}, {"overshoot_margin_c": 2.0}, {"timeout_s": -1.0}, {"x": 1}])
def test_bad_autotune_values_are_refused(kw: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        AutotuneConfig(**kw)


def test_autotune_target_at_or_above_the_zone_max_is_refused() -> None:
    with pytest.raises(ValueError):
        AutotuneConfig().settings(280.0, max_c=280.0)
