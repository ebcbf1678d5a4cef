"""The safety rules of one heater zone: sensor, staleness, maximum, heating watch, thermal runaway.

Pure: time only enters through ``now_s``. :class:`gateway.control.safety.SafetySupervisor` runs one
guard per zone and latches what they find.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from firmware_bridge.telemetry import SensorFailure
from gateway.control.const import (
    RUNAWAY_HYSTERESIS_C,
    RUNAWAY_PERIOD_S,
    WATCH_INCREASE_C,
    WATCH_MIN_REQUIRED_C,
    WATCH_PERIOD_S,
    WATCH_RAMP_SHARE,
    ZONE_MAX_C_DEFAULT,
)
from gateway.control.faults import FaultCode, ZoneState

__all__ = ["Reading", "ZoneGuard", "ZoneInput", "ZoneSafetyRules", "valid_temp"]


@dataclass(frozen=True, slots=True)
class ZoneSafetyRules:
    """Per-zone limits (from the zone's config)."""

    max_c: float = ZONE_MAX_C_DEFAULT
    runaway_hysteresis_c: float = RUNAWAY_HYSTERESIS_C
    runaway_period_s: float = RUNAWAY_PERIOD_S
    watch_period_s: float = WATCH_PERIOD_S
    watch_increase_c: float = WATCH_INCREASE_C


Reading = float | SensorFailure | None


@dataclass(frozen=True, slots=True)
class ZoneInput:
    """What the supervisor knows about one zone this period."""

    reading: Reading
    """Latest reading as the telemetry gives it (degC or ``SensorFailure``); ``None`` = never had one."""
    sample_at_s: float | None
    """When the latest fresh sample arrived; ``None`` = never."""
    setpoint_c: float | None
    """Target set by the user; ``None`` = off."""
    effective_setpoint_c: float | None = None
    """The ramped setpoint the PID regulates to (``ZonePid.effective_setpoint_c``); ``None``: ``setpoint_c``."""


def describe_reading(reading: Reading) -> str:
    """A reading in plain words: ``open``, ``short``, ``nothing``, ``212.5 degC`` or ``nan``."""
    if reading is None:
        return "nothing"
    if isinstance(reading, SensorFailure):
        return reading.value
    return f"{reading:g} degC" if valid_temp(reading) is not None else str(reading)


def valid_temp(reading: Reading) -> float | None:
    if isinstance(reading, float | int) and not isinstance(reading, bool) and math.isfinite(reading):
        return float(reading)
    return None


class ZoneGuard:
    """The rules of one zone: sensor, staleness, max, heating watch and thermal runaway."""

    def __init__(self, rules: ZoneSafetyRules, stale_after_s: float) -> None:
        self.rules = rules
        self.stale_after_s = stale_after_s
        self.phase = ZoneState.OFF
        self._last_eff: float | None = None
        self._watch: tuple[float, float, float, float] | None = None
        """(armed at s, temp then, effective setpoint then, target then)."""
        self._below_since_s: float | None = None
        self._judged_sample_at: float | None = None
        """The sample the heating watch and runaway rules last judged (they judge each sample once)."""

    def rearm(self) -> None:
        """Start the heating watch and runaway timers afresh (after a reset or while disabled)."""
        self.phase = ZoneState.OFF
        self._last_eff = None
        self._watch = None
        self._below_since_s = None

    def fresh(self, inp: ZoneInput, now_s: float) -> bool:
        return inp.sample_at_s is not None and now_s - inp.sample_at_s <= self.stale_after_s

    def check(self, inp: ZoneInput, now_s: float, heater_enabled: bool) -> list[tuple[FaultCode, str]]:
        """Faults this input shows. Watch/runaway only run while the heater was allowed."""
        found: list[tuple[FaultCode, str]] = []
        reading = inp.reading
        if isinstance(reading, str) and reading == SensorFailure.OPEN:  # SensorFailure is a str
            found.append((FaultCode.SENSOR_OPEN, "sensor reads open"))
        elif isinstance(reading, str) and reading == SensorFailure.SHORT:
            found.append((FaultCode.SENSOR_SHORT, "sensor reads short"))
        elif reading is not None and valid_temp(reading) is None:
            found.append((FaultCode.SENSOR_INVALID, f"reading {describe_reading(reading)} is not a temperature"))
        if inp.sample_at_s is not None and not self.fresh(inp, now_s):
            found.append((FaultCode.STALE, f"no fresh sample for {now_s - inp.sample_at_s:.2f} s"))
        temp = valid_temp(reading)
        if temp is not None and temp > self.rules.max_c:
            found.append((FaultCode.OVERTEMP, f"{temp:.2f} degC above max {self.rules.max_c:g} degC"))
        if found or temp is None or not heater_enabled or inp.setpoint_c is None:
            if temp is None or not heater_enabled or inp.setpoint_c is None:
                self.rearm()
            return found
        if inp.sample_at_s is not None and inp.sample_at_s == self._judged_sample_at:
            return found  # no new sample (a frame lost on the line): a frozen value proves nothing
        self._judged_sample_at = inp.sample_at_s
        fault = self._track(temp, inp.setpoint_c, inp.effective_setpoint_c, now_s)
        return [fault] if fault else []

    def _track(self, temp: float, target: float, eff: float | None, now_s: float) -> tuple[FaultCode, str] | None:
        r = self.rules
        eff = target if eff is None else eff
        band_low = eff - r.runaway_hysteresis_c
        rising = self._last_eff is not None and eff > self._last_eff
        if self.phase is ZoneState.OFF or (rising and temp < band_low and self.phase is ZoneState.HOLDING):
            self.phase = ZoneState.HOLDING if temp >= band_low else ZoneState.HEATING
            self._watch = (now_s, temp, eff, target)
            self._below_since_s = None
        self._last_eff = eff
        if self.phase is ZoneState.HEATING:
            if temp >= band_low:
                self.phase = ZoneState.HOLDING
                return None
            return self._judge_watch(temp, eff, target, now_s)
        if temp >= band_low:
            self._below_since_s = None
            return None
        if self._below_since_s is None:
            self._below_since_s = now_s
        elif now_s - self._below_since_s > r.runaway_period_s:
            return (
                FaultCode.RUNAWAY,
                f"{temp:.2f} degC below {band_low:.2f} degC for {now_s - self._below_since_s:.1f} s while holding",
            )
        return None

    def _judge_watch(self, temp: float, eff: float, target: float, now_s: float) -> tuple[FaultCode, str] | None:
        r = self.rules
        assert self._watch is not None
        armed_s, temp0, eff0, target0 = self._watch
        if now_s - armed_s < r.watch_period_s:
            return None
        self._watch = (now_s, temp, eff, target)
        required = r.watch_increase_c
        if eff0 < target0 or eff < target:  # a ramp is running: the zone only has to follow it
            required = min(required, WATCH_RAMP_SHARE * (eff - eff0))
            if required < WATCH_MIN_REQUIRED_C:
                return None
        if temp0 > eff - r.runaway_hysteresis_c - required:
            return None  # less than the required rise was left to the holding band: not judged
        rise = temp - temp0
        if rise < required:
            return (
                FaultCode.HEATING_FAILED,
                f"rose {rise:.2f} degC in {now_s - armed_s:.1f} s while heating (needs {required:.2f})",
            )
        return None

    def persisting(self, code: FaultCode, inp: ZoneInput | None, now_s: float) -> str | None:
        """Why ``code`` cannot be cleared now, or ``None`` when its cause is gone."""
        if inp is None:
            return "no reading since the fault"
        temp = valid_temp(inp.reading)
        if code is FaultCode.STALE:
            return None if self.fresh(inp, now_s) else "still no fresh temperature"
        if temp is None:
            return f"sensor still reads {describe_reading(inp.reading)}"
        if code is FaultCode.OVERTEMP and temp >= self.rules.max_c:
            return f"still {temp:.2f} degC, max {self.rules.max_c:g} degC"
        return None
