"""Typed configuration of one heater zone's regulation and safety, and of the relay autotune.

The ``[extruder]`` section (owned by the extruder part) holds a list of :class:`ZoneControlConfig`
and one :class:`AutotuneConfig`. Defaults are safe: slow, non-oscillating gains, a maximum well below
the controller board's hard limit, and firmware-practice runaway and heating-watch limits.
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway.control import const
from gateway.control.autotune import AutotuneSettings
from gateway.control.pid import PidGains, PidSettings
from gateway.control.safety import ZoneSafetyRules

__all__ = ["AutotuneConfig", "ZoneControlConfig"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class ZoneControlConfig(_Model):
    """Regulation and safety limits of one heater zone."""

    kp: float = Field(
        const.PID_KP_DEFAULT, ge=0, le=10, description="Proportional gain: output (0..1) per degC of error."
    )
    ki: float = Field(
        const.PID_KI_DEFAULT, ge=0, le=1, description="Integral gain: output (0..1) per degC*s of error."
    )
    kd: float = Field(
        const.PID_KD_DEFAULT, ge=0, le=100, description="Derivative gain on the measurement: output (0..1) per degC/s."
    )
    derivative_filter_s: float = Field(
        const.PID_DERIVATIVE_FILTER_S,
        ge=0,
        le=60,
        description="Time constant of the filter on the measured rate of change, s.",
    )
    functional_range_c: float = Field(
        const.PID_FUNCTIONAL_RANGE_C,
        gt=0,
        le=100,
        description="Farther than this from the setpoint the heater is simply full on (below) or off (above), degC.",
    )
    integral_limit: float = Field(
        const.PID_INTEGRAL_LIMIT, ge=0, le=1, description="Largest integral term, as an output fraction 0..1."
    )
    ramp_c_per_s: float = Field(
        const.SETPOINT_RAMP_C_PER_S_DEFAULT,
        ge=0,
        le=100,
        description="Setpoint ramp limit in degC/s (the regulated setpoint climbs no faster); 0 = no ramp.",
    )
    max_c: float = Field(
        const.ZONE_MAX_C_DEFAULT,
        gt=0,
        le=const.ZONE_MAX_C_LIMIT,
        description="Zone maximum, degC: setpoints above it are refused and a reading above it latches 'overtemp'.",
    )
    runaway_hysteresis_c: float = Field(
        const.RUNAWAY_HYSTERESIS_C,
        gt=0,
        le=50,
        description="A holding zone may sag this far below its setpoint before the runaway timer runs, degC.",
    )
    runaway_period_s: float = Field(
        const.RUNAWAY_PERIOD_S,
        gt=0,
        le=600,
        description="Time below setpoint - hysteresis after which a holding zone latches 'runaway', s.",
    )
    watch_period_s: float = Field(
        const.WATCH_PERIOD_S, gt=0, le=600, description="Window in which a heating zone must gain watch_increase_c, s."
    )
    watch_increase_c: float = Field(
        const.WATCH_INCREASE_C,
        gt=0,
        le=50,
        description="Rise a heating zone must show within each watch period, else 'heating_failed', degC.",
    )

    @model_validator(mode="after")
    def _band_below_max(self) -> Self:
        if self.runaway_hysteresis_c >= self.max_c:
            raise ValueError("runaway_hysteresis_c must be smaller than max_c")
        if self.max_setpoint_c <= 0:
            raise ValueError(f"max_c must exceed the {const.SETPOINT_MARGIN_BELOW_MAX_C:g} degC setpoint margin")
        return self

    @property
    def max_setpoint_c(self) -> float:
        """Highest setpoint to accept: ``max_c`` less a margin for overshoot and sensor noise."""
        return self.max_c - const.SETPOINT_MARGIN_BELOW_MAX_C

    def gains(self) -> PidGains:
        return PidGains(self.kp, self.ki, self.kd)

    def pid_settings(self) -> PidSettings:
        return PidSettings(
            gains=self.gains(),
            derivative_filter_s=self.derivative_filter_s,
            functional_range_c=self.functional_range_c,
            integral_limit=self.integral_limit,
            ramp_c_per_s=self.ramp_c_per_s,
        )

    def safety_rules(self) -> ZoneSafetyRules:
        return ZoneSafetyRules(
            max_c=self.max_c,
            runaway_hysteresis_c=self.runaway_hysteresis_c,
            runaway_period_s=self.runaway_period_s,
            watch_period_s=self.watch_period_s,
            watch_increase_c=self.watch_increase_c,
        )


class AutotuneConfig(_Model):
    """How a relay autotune runs."""

    hysteresis_c: float = Field(
        const.AUTOTUNE_HYSTERESIS_C, ge=0, le=5, description="Relay switching band around the target, degC."
    )
    cycles: int = Field(const.AUTOTUNE_CYCLES, ge=2, le=20, description="Symmetric oscillations measured.")
    overshoot_margin_c: float = Field(
        const.AUTOTUNE_OVERSHOOT_MARGIN_C,
        gt=5,
        le=50,
        description="Abort (heater off) when the zone rises this far above the target, degC.",
    )
    timeout_s: float = Field(
        const.AUTOTUNE_TIMEOUT_S, gt=0, le=4 * 3600, description="Abort (heater off) when not done after this long, s."
    )
    output_max: float = Field(
        const.OUTPUT_MAX, gt=0.1, le=1, description="Highest output (0..1) the relay applies."
    )

    def settings(self, target_c: float, max_c: float | None = None) -> AutotuneSettings:
        """Settings for one run to ``target_c`` on a zone whose maximum is ``max_c``."""
        return AutotuneSettings(
            target_c=target_c,
            output_max=self.output_max,
            hysteresis_c=self.hysteresis_c,
            cycles=self.cycles,
            overshoot_margin_c=self.overshoot_margin_c,
            timeout_s=self.timeout_s,
            max_c=max_c,
        )
