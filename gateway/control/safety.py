"""Safety supervisor of the heater zones. Pure: time only enters through ``now_s``.

Each control period the supervisor gets the zone readings, setpoints, link state, the controller's
fault and the e-stop input, and answers with a :class:`Verdict`: which heaters may be on, whether the
motor may run and whether the heater-power interlock may be closed. Faults latch until
:meth:`SafetySupervisor.reset`, which clears only those whose cause is gone.

Zone faults turn that zone's heater off (and stop the motor: the melt is no longer under control);
severe faults turn every heater and the motor off. The table :data:`SEVERITY` says which is which.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from firmware_bridge.telemetry import SensorFailure
from gateway.control.const import (
    RUNAWAY_HYSTERESIS_C,
    RUNAWAY_PERIOD_S,
    STALE_PERIODS,
    WATCH_INCREASE_C,
    WATCH_MIN_REQUIRED_C,
    WATCH_PERIOD_S,
    WATCH_RAMP_SHARE,
    ZONE_MAX_C_DEFAULT,
)

__all__ = [
    "SEVERITY",
    "FaultCode",
    "LatchedFault",
    "Reading",
    "ResetResult",
    "SafetySupervisor",
    "Severity",
    "SupervisorInput",
    "Verdict",
    "ZoneGuard",
    "ZoneInput",
    "ZoneSafetyRules",
    "ZoneState",
]

NO_CONTROLLER_FAULT = "none"


class FaultCode(enum.StrEnum):
    """Why heaters were turned off."""

    SENSOR_OPEN = "sensor_open"
    SENSOR_SHORT = "sensor_short"
    SENSOR_INVALID = "sensor_invalid"
    """The reading is not a finite number (NaN, inf)."""
    STALE = "stale"
    """No fresh temperature for ``STALE_PERIODS`` control periods."""
    OVERTEMP = "overtemp"
    """Above the zone's configured maximum."""
    RUNAWAY = "runaway"
    """A holding zone stayed below setpoint - hysteresis for longer than the protection period."""
    HEATING_FAILED = "heating_failed"
    """A heating zone gained less than the watch increase within the watch period."""
    LINK_LOST = "link_lost"
    CONTROLLER_FAULT = "controller_fault"
    """The controller board reports a fault other than ``none``."""
    ESTOP = "estop"


class Severity(enum.StrEnum):
    ZONE = "zone"
    """That zone's heater off (and the motor stopped)."""
    SEVERE = "severe"
    """Every heater and the motor off."""


SEVERITY: Mapping[FaultCode, Severity] = MappingProxyType(
    {
        FaultCode.SENSOR_OPEN: Severity.ZONE,
        FaultCode.SENSOR_SHORT: Severity.ZONE,
        FaultCode.SENSOR_INVALID: Severity.ZONE,
        FaultCode.STALE: Severity.ZONE,
        FaultCode.HEATING_FAILED: Severity.ZONE,
        FaultCode.OVERTEMP: Severity.SEVERE,
        FaultCode.RUNAWAY: Severity.SEVERE,
        FaultCode.LINK_LOST: Severity.SEVERE,
        FaultCode.CONTROLLER_FAULT: Severity.SEVERE,
        FaultCode.ESTOP: Severity.SEVERE,
    }
)


class ZoneState(enum.StrEnum):
    OFF = "off"
    HEATING = "heating"
    HOLDING = "holding"
    FAULT = "fault"


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


@dataclass(frozen=True, slots=True)
class SupervisorInput:
    zones: Sequence[ZoneInput]
    link_up: bool
    controller_fault: str = NO_CONTROLLER_FAULT
    """The controller's ``fault`` (``firmware_bridge.telemetry.Fault`` value)."""
    estop: bool = False
    """E-stop input active."""


@dataclass(frozen=True, slots=True)
class LatchedFault:
    code: FaultCode
    zone: int | None
    """Zone concerned, ``None`` for a global fault."""
    at_s: float
    detail: str = ""

    @property
    def severity(self) -> Severity:
        return SEVERITY[self.code]


@dataclass(frozen=True, slots=True)
class Verdict:
    """What may be on this period."""

    heater_allowed: tuple[bool, ...]
    """Per zone. False: command 0 and reset that zone's PID."""
    motor_allowed: bool
    interlock_on: bool
    """The heater-power relay may be closed: no fault is latched."""
    zone_states: tuple[ZoneState, ...]
    faults: tuple[LatchedFault, ...]
    """Every latched fault, oldest first."""
    new_faults: tuple[LatchedFault, ...] = ()
    """Faults latched by this step."""

    def zone_fault(self, zone: int) -> LatchedFault | None:
        """The fault to show for ``zone``: its own first latched one, else the first severe one."""
        own = next((f for f in self.faults if f.zone == zone), None)
        return own or next((f for f in self.faults if f.severity is Severity.SEVERE), None)


@dataclass(frozen=True, slots=True)
class ResetResult:
    cleared: tuple[LatchedFault, ...]
    refused: tuple[tuple[LatchedFault, str], ...]
    """Faults still latched, each with the reason (its cause persists)."""


def _valid_temp(reading: Reading) -> float | None:
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
        if reading is SensorFailure.OPEN or reading == SensorFailure.OPEN.value:
            found.append((FaultCode.SENSOR_OPEN, "sensor reads open"))
        elif reading is SensorFailure.SHORT or reading == SensorFailure.SHORT.value:
            found.append((FaultCode.SENSOR_SHORT, "sensor reads short"))
        elif reading is not None and _valid_temp(reading) is None:
            found.append((FaultCode.SENSOR_INVALID, f"reading {reading!r} is not a temperature"))
        if inp.sample_at_s is not None and not self.fresh(inp, now_s):
            found.append((FaultCode.STALE, f"no fresh sample for {now_s - inp.sample_at_s:.2f} s"))
        temp = _valid_temp(reading)
        if temp is not None and temp > self.rules.max_c:
            found.append((FaultCode.OVERTEMP, f"{temp:.2f} degC above max {self.rules.max_c:g} degC"))
        if found or temp is None or not heater_enabled or inp.setpoint_c is None:
            if temp is None or not heater_enabled or inp.setpoint_c is None:
                self.rearm()
            return found
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
        temp = _valid_temp(inp.reading)
        if code is FaultCode.STALE:
            return None if self.fresh(inp, now_s) else "still no fresh temperature"
        if temp is None:
            return f"sensor still reads {inp.reading!r}"
        if code is FaultCode.OVERTEMP and temp >= self.rules.max_c:
            return f"still {temp:.2f} degC, max {self.rules.max_c:g} degC"
        return None


class SafetySupervisor:
    """Latches faults from the per-zone guards and the global inputs; decides what may be on."""

    def __init__(
        self, rules: Sequence[ZoneSafetyRules], period_s: float, sample_period_s: float | None = None
    ) -> None:
        """``period_s``: control period; ``sample_period_s``: telemetry period if longer (a zone is
        stale after ``STALE_PERIODS`` of the longer of the two, so a 50 Hz loop fed 10 Hz telemetry
        does not trip)."""
        if not rules:
            raise ValueError("at least one zone")
        if not period_s > 0 or (sample_period_s is not None and not sample_period_s > 0):
            raise ValueError("periods must be > 0")
        stale_after_s = STALE_PERIODS * max(period_s, sample_period_s or 0.0)
        self._guards = [ZoneGuard(r, stale_after_s) for r in rules]
        self._latched: dict[tuple[FaultCode, int | None], LatchedFault] = {}
        self._link_was_up = False
        self._last: SupervisorInput | None = None
        self._last_now_s = 0.0
        self._allowed = tuple(False for _ in rules)

    @property
    def zones(self) -> int:
        return len(self._guards)

    @property
    def faults(self) -> tuple[LatchedFault, ...]:
        return tuple(self._latched.values())

    def trip(self, code: FaultCode, now_s: float, zone: int | None = None, detail: str = "") -> LatchedFault:
        """Latch ``code`` from outside (API e-stop, autotune abort...). Effective in :meth:`current`."""
        if zone is not None and not 0 <= zone < self.zones:
            raise ValueError(f"no zone {zone}")
        return self._latch(code, zone, now_s, detail) or self._latched[(code, zone)]

    def _latch(self, code: FaultCode, zone: int | None, now_s: float, detail: str) -> LatchedFault | None:
        key = (code, zone)
        if key in self._latched:
            return None
        fault = LatchedFault(code, zone, now_s, detail)
        self._latched[key] = fault
        return fault

    def step(self, inp: SupervisorInput, now_s: float) -> Verdict:
        """Judge one period's input."""
        if len(inp.zones) != self.zones:
            raise ValueError(f"expected {self.zones} zones, got {len(inp.zones)}")
        new: list[LatchedFault | None] = []
        if inp.estop:
            new.append(self._latch(FaultCode.ESTOP, None, now_s, "e-stop input active"))
        if inp.link_up:
            self._link_was_up = True
        elif self._link_was_up:
            new.append(self._latch(FaultCode.LINK_LOST, None, now_s, "link to the controller lost"))
        if str(inp.controller_fault) != NO_CONTROLLER_FAULT:
            new.append(
                self._latch(FaultCode.CONTROLLER_FAULT, None, now_s, f"controller reports {inp.controller_fault}")
            )
        for zone, (guard, zin) in enumerate(zip(self._guards, inp.zones, strict=True)):
            for code, detail in guard.check(zin, now_s, self._allowed[zone]):
                new.append(self._latch(code, zone, now_s, detail))
        self._last = inp
        self._last_now_s = now_s
        verdict = self._verdict(tuple(f for f in new if f is not None))
        self._allowed = verdict.heater_allowed
        return verdict

    def current(self) -> Verdict:
        """The verdict for the last input with the faults latched now (after :meth:`trip`/:meth:`reset`)."""
        verdict = self._verdict(())
        self._allowed = tuple(a and b for a, b in zip(self._allowed, verdict.heater_allowed, strict=True))
        return verdict

    def _verdict(self, new: tuple[LatchedFault, ...]) -> Verdict:
        faults = self.faults
        severe = any(f.severity is Severity.SEVERE for f in faults)
        faulted_zones = {f.zone for f in faults if f.zone is not None}
        allowed: list[bool] = []
        states: list[ZoneState] = []
        for zone, guard in enumerate(self._guards):
            zin = self._last.zones[zone] if self._last is not None else None
            ready = (
                zin is not None
                and self._last is not None
                and self._last.link_up
                and _valid_temp(zin.reading) is not None
                and guard.fresh(zin, self._last_now_s)
            )
            ok = not severe and zone not in faulted_zones
            allowed.append(ok and ready)
            if not ok:
                states.append(ZoneState.FAULT)
            elif zin is None or zin.setpoint_c is None:
                states.append(ZoneState.OFF)
            else:
                states.append(guard.phase if guard.phase is not ZoneState.OFF else ZoneState.HEATING)
        return Verdict(
            heater_allowed=tuple(allowed),
            motor_allowed=not faults and self._last is not None and self._last.link_up,
            interlock_on=not faults,
            zone_states=tuple(states),
            faults=faults,
            new_faults=new,
        )

    def reset(self, now_s: float) -> ResetResult:
        """Clear every latched fault whose cause is gone in the last input; say why others stay."""
        cleared: list[LatchedFault] = []
        refused: list[tuple[LatchedFault, str]] = []
        for key, fault in list(self._latched.items()):
            reason = self._persisting(fault, now_s)
            if reason is None:
                del self._latched[key]
                cleared.append(fault)
                if fault.zone is not None:
                    self._guards[fault.zone].rearm()
            else:
                refused.append((fault, reason))
        if cleared:
            for guard in self._guards:
                guard.rearm()
        return ResetResult(tuple(cleared), tuple(refused))

    def _persisting(self, fault: LatchedFault, now_s: float) -> str | None:
        last = self._last
        if fault.code is FaultCode.ESTOP:
            return "e-stop input still active" if last is not None and last.estop else None
        if fault.code is FaultCode.LINK_LOST:
            return None if last is not None and last.link_up else "link still down"
        if fault.code is FaultCode.CONTROLLER_FAULT:
            if last is None or str(last.controller_fault) == NO_CONTROLLER_FAULT:
                return None
            return f"controller still reports {last.controller_fault} (clear it on the controller first)"
        assert fault.zone is not None
        zin = last.zones[fault.zone] if last is not None else None
        return self._guards[fault.zone].persisting(fault.code, zin, now_s)
