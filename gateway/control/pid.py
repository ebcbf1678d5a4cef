"""PID regulator of one heater zone. Pure: time only enters through ``now_s``.

- Derivative on the measurement (not on the error), through a first-order filter: a setpoint
  change gives no derivative kick and sensor noise stays out of the output.
- Integral kept in ``0..integral_limit`` and integrated only while the output is not saturated in
  the direction of the error (conditional integration: no windup during heat-up).
- Outside ``functional_range_c`` around the (effective) setpoint: full on below, off above.
- Optional setpoint ramp (degC/s): the effective setpoint climbs from the current temperature to
  the target at most that fast; lowering the setpoint applies at once.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from gateway.control.const import (
    OUTPUT_MAX,
    OUTPUT_MIN,
    PID_DERIVATIVE_FILTER_S,
    PID_FUNCTIONAL_RANGE_C,
    PID_INTEGRAL_LIMIT,
    PID_KD_DEFAULT,
    PID_KI_DEFAULT,
    PID_KP_DEFAULT,
    SETPOINT_RAMP_C_PER_S_DEFAULT,
)

__all__ = ["PidGains", "PidSettings", "PidTerms", "ZonePid"]


@dataclass(frozen=True, slots=True)
class PidGains:
    """Gains in output fraction per degC (kp), per degC*s (ki) and per degC/s (kd)."""

    kp: float
    ki: float
    kd: float

    def __post_init__(self) -> None:
        for name in ("kp", "ki", "kd"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


DEFAULT_GAINS = PidGains(PID_KP_DEFAULT, PID_KI_DEFAULT, PID_KD_DEFAULT)


@dataclass(frozen=True, slots=True)
class PidSettings:
    """Everything a :class:`ZonePid` is built with."""

    gains: PidGains = DEFAULT_GAINS
    derivative_filter_s: float = PID_DERIVATIVE_FILTER_S
    functional_range_c: float = PID_FUNCTIONAL_RANGE_C
    integral_limit: float = PID_INTEGRAL_LIMIT
    ramp_c_per_s: float = SETPOINT_RAMP_C_PER_S_DEFAULT
    """0 = no ramp."""

    def __post_init__(self) -> None:
        if not self.derivative_filter_s >= 0:
            raise ValueError("derivative_filter_s must be >= 0")
        if not self.functional_range_c > 0:
            raise ValueError("functional_range_c must be > 0")
        if not 0 <= self.integral_limit <= OUTPUT_MAX:
            raise ValueError("integral_limit must be within 0..1")
        if not self.ramp_c_per_s >= 0:
            raise ValueError("ramp_c_per_s must be >= 0")


@dataclass(frozen=True, slots=True)
class PidTerms:
    """The last update's terms (diagnostics); ``output`` is what was returned."""

    p: float = 0.0
    i: float = 0.0
    d: float = 0.0
    output: float = 0.0
    saturated: bool = False
    """True when the functional range or the output clamp decided the output."""


@dataclass(slots=True)
class _State:
    integral: float = 0.0
    last_now_s: float | None = None
    last_temp_c: float | None = None
    rate_c_per_s: float = 0.0
    """Filtered d(temp)/dt (starts at 0: a zone is assumed steady when regulation starts)."""
    effective_setpoint_c: float | None = None
    terms: PidTerms = field(default_factory=PidTerms)


class ZonePid:
    """One zone's regulator; call :meth:`update` once per control period."""

    def __init__(self, settings: PidSettings | None = None) -> None:
        self._settings = settings or PidSettings()
        self._s = _State()

    @property
    def settings(self) -> PidSettings:
        return self._settings

    @property
    def effective_setpoint_c(self) -> float | None:
        """The (ramped) setpoint regulated to at the last update; ``None`` when off."""
        return self._s.effective_setpoint_c

    @property
    def terms(self) -> PidTerms:
        return self._s.terms

    def reset(self) -> None:
        """Forget the integral, the derivative history and the ramp (heater off, fault, new run)."""
        self._s = _State()

    def set_gains(self, gains: PidGains) -> None:
        """Use new gains from the next update on (integral and filter state kept)."""
        self._settings = dataclasses.replace(self._settings, gains=gains)

    def update(self, setpoint_c: float | None, temp_c: float, now_s: float) -> float:
        """The heater output (0..1) for ``temp_c`` measured at ``now_s``; ``None`` setpoint = off."""
        if setpoint_c is None or not math.isfinite(temp_c) or not math.isfinite(setpoint_c):
            self.reset()
            return OUTPUT_MIN
        st = self._s
        cfg = self._settings
        dt = 0.0 if st.last_now_s is None else max(now_s - st.last_now_s, 0.0)
        self._track_rate(temp_c, dt)
        target = self._ramp(setpoint_c, temp_c, dt)
        st.last_now_s = now_s
        st.last_temp_c = temp_c

        error = target - temp_c
        d_term = -cfg.gains.kd * st.rate_c_per_s
        if error > cfg.functional_range_c:
            st.integral = 0.0
            return self._done(PidTerms(0.0, 0.0, d_term, OUTPUT_MAX, True))
        if error < -cfg.functional_range_c:
            st.integral = 0.0
            return self._done(PidTerms(0.0, 0.0, d_term, OUTPUT_MIN, True))

        p_term = cfg.gains.kp * error
        candidate = min(max(st.integral + cfg.gains.ki * error * dt, 0.0), cfg.integral_limit)
        raw = p_term + candidate + d_term
        # Conditional integration: do not accumulate further into a saturated output.
        if (raw > OUTPUT_MAX and candidate > st.integral) or (raw < OUTPUT_MIN and candidate < st.integral):
            candidate = st.integral
            raw = p_term + candidate + d_term
        st.integral = min(candidate, cfg.integral_limit)
        output = min(max(raw, OUTPUT_MIN), OUTPUT_MAX)
        return self._done(PidTerms(p_term, st.integral, d_term, output, output != raw))

    def _done(self, terms: PidTerms) -> float:
        self._s.terms = terms
        return terms.output

    def _track_rate(self, temp_c: float, dt: float) -> None:
        st = self._s
        if st.last_temp_c is None or dt <= 0:
            return
        raw = (temp_c - st.last_temp_c) / dt
        tf = self._settings.derivative_filter_s
        alpha = 1.0 if tf <= 0 else dt / (tf + dt)
        st.rate_c_per_s += alpha * (raw - st.rate_c_per_s)

    def _ramp(self, setpoint_c: float, temp_c: float, dt: float) -> float:
        st = self._s
        ramp = self._settings.ramp_c_per_s
        if ramp <= 0:
            st.effective_setpoint_c = setpoint_c
            return setpoint_c
        eff = st.effective_setpoint_c
        if eff is None:
            eff = min(temp_c, setpoint_c)  # a new ramp starts where the zone is
        elif setpoint_c <= eff:
            eff = setpoint_c
        else:
            eff = min(setpoint_c, eff + ramp * dt)
        st.effective_setpoint_c = eff
        return eff
