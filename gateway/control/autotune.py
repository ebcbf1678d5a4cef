"""Relay autotune of one zone with adaptive bias. Pure: time only enters through ``now_s``.

The zone is driven by a relay around the target: ``bias + d`` while below ``target - hysteresis``
until it passes ``target + hysteresis``, then ``bias - d`` until it falls below ``target -
hysteresis`` again. After each full oscillation the bias moves so that the heating and cooling
halves take equally long (a symmetric oscillation around the target), with ``d = min(bias, max -
bias)``. From symmetric oscillations the ultimate gain ``Ku = 4 d / (pi * sqrt(a^2 - h^2))`` (``a``
the temperature amplitude, ``h`` the relay hysteresis) and the ultimate period ``Tu`` give PID
gains by three published rules: Ziegler-Nichols classic, Ziegler-Nichols "no overshoot", and
Tyreus-Luyben. Tyreus-Luyben is the one recommended and applied: a barrel zone is lag-dominant
(dead time of seconds, time constant of minutes), where the Ziegler-Nichols integral time ``Tu/2``
winds the integral up during the final approach; on the simulated zone the ZN rules overshoot a
heat-up by 2-3 degC while Tyreus-Luyben (``Ti = 2.2 Tu``) stays within a few tenths.

It aborts (output 0, reason given) above ``target + overshoot_margin_c`` or the zone's max, on a
reading that is not a number, after ``timeout_s`` and when the oscillation never becomes symmetric.
"""

from __future__ import annotations

import enum
import math
import statistics
from dataclasses import dataclass

from gateway.control.const import (
    AUTOTUNE_BIAS_MIN,
    AUTOTUNE_CYCLES,
    AUTOTUNE_HYSTERESIS_C,
    AUTOTUNE_MAX_CYCLES,
    AUTOTUNE_OVERSHOOT_MARGIN_C,
    AUTOTUNE_SETTLE_CYCLES,
    AUTOTUNE_SYMMETRY_TOLERANCE,
    AUTOTUNE_TIMEOUT_S,
    OUTPUT_MAX,
)
from gateway.control.pid import PidGains

__all__ = ["AutotuneResult", "AutotuneSettings", "AutotuneStatus", "RelayAutotune", "gains_from_ultimate"]


class AutotuneStatus(enum.StrEnum):
    RUNNING = "running"
    DONE = "done"
    ABORTED = "aborted"


@dataclass(frozen=True, slots=True)
class AutotuneSettings:
    target_c: float
    output_max: float = OUTPUT_MAX
    """Highest output the relay may apply (fraction)."""
    hysteresis_c: float = AUTOTUNE_HYSTERESIS_C
    cycles: int = AUTOTUNE_CYCLES
    overshoot_margin_c: float = AUTOTUNE_OVERSHOOT_MARGIN_C
    timeout_s: float = AUTOTUNE_TIMEOUT_S
    max_c: float | None = None
    """The zone's max: abort above it too."""

    def __post_init__(self) -> None:
        if not math.isfinite(self.target_c):
            raise ValueError("target_c must be a number")
        if not 2 * AUTOTUNE_BIAS_MIN < self.output_max <= OUTPUT_MAX:
            raise ValueError("output_max must be within 0..1 (and not tiny)")
        if not self.hysteresis_c >= 0:
            raise ValueError("hysteresis_c must be >= 0")
        if self.cycles < 1:
            raise ValueError("cycles must be >= 1")
        if not self.overshoot_margin_c > self.hysteresis_c:
            raise ValueError("overshoot_margin_c must exceed the hysteresis")
        if not self.timeout_s > 0:
            raise ValueError("timeout_s must be > 0")
        if self.max_c is not None and self.target_c + self.hysteresis_c >= self.max_c:
            raise ValueError("target_c must be below the zone's max")


def _pid(kp: float, ti_s: float, td_s: float) -> PidGains:
    return PidGains(kp=kp, ki=kp / ti_s, kd=kp * td_s)


def gains_from_ultimate(ku: float, tu_s: float) -> tuple[PidGains, PidGains, PidGains]:
    """(Ziegler-Nichols classic, ZN no-overshoot, Tyreus-Luyben) PID gains from ``Ku`` and ``Tu``."""
    classic = _pid(0.6 * ku, tu_s / 2, tu_s / 8)
    no_overshoot = _pid(0.2 * ku, tu_s / 2, tu_s / 3)
    tyreus_luyben = _pid(0.45 * ku, 2.2 * tu_s, tu_s / 6.3)
    return classic, no_overshoot, tyreus_luyben


@dataclass(frozen=True, slots=True)
class AutotuneResult:
    ku: float
    """Ultimate gain, output fraction per degC."""
    tu_s: float
    """Ultimate period."""
    amplitude_c: float
    """Half the peak-to-peak temperature swing."""
    bias: float
    """Relay bias at the end (≈ the output that holds the target)."""
    cycles: int
    gains_ziegler_nichols: PidGains
    """Ziegler-Nichols classic: fast, overshoots."""
    gains_no_overshoot: PidGains
    """Ziegler-Nichols "no overshoot" variant (still overshoots a lag-dominant zone's heat-up)."""
    gains_tyreus_luyben: PidGains
    """Tyreus-Luyben: for lag-dominant processes; no measurable overshoot on a barrel zone."""

    @property
    def recommended(self) -> PidGains:
        """The gains to apply (see the module docstring for why Tyreus-Luyben)."""
        return self.gains_tyreus_luyben


@dataclass(frozen=True, slots=True)
class _Cycle:
    high_s: float
    low_s: float
    amplitude_c: float
    d: float


class RelayAutotune:
    """Call :meth:`step` once per control period with the zone's temperature; apply its output."""

    def __init__(self, settings: AutotuneSettings, now_s: float) -> None:
        self.settings = settings
        self.started_s = now_s
        self.status = AutotuneStatus.RUNNING
        self.result: AutotuneResult | None = None
        self.abort_reason: str | None = None
        self.bias = settings.output_max / 2
        self.d = settings.output_max / 2
        self._heating = True
        self._to_high_s: float | None = None
        """When the relay last switched low -> high (start of the current cycle)."""
        self._to_low_s: float | None = None
        self._cycle_max = -math.inf
        self._cycle_min = math.inf
        self.cycles_seen = 0
        self._good: list[_Cycle] = []

    @property
    def progress(self) -> tuple[int, int]:
        """(symmetric oscillations measured, needed)."""
        return len(self._good), self.settings.cycles

    def abort(self, reason: str) -> None:
        if self.status is AutotuneStatus.RUNNING:
            self.status = AutotuneStatus.ABORTED
            self.abort_reason = reason

    def step(self, now_s: float, temp_c: float) -> float:
        """The output for this period (0.0 once done or aborted)."""
        if self.status is not AutotuneStatus.RUNNING:
            return 0.0
        s = self.settings
        if not math.isfinite(temp_c):
            self.abort(f"reading {temp_c!r} is not a temperature")
        elif temp_c > s.target_c + s.overshoot_margin_c:
            self.abort(f"overshoot: {temp_c:.2f} degC above {s.target_c + s.overshoot_margin_c:g} degC")
        elif s.max_c is not None and temp_c > s.max_c:
            self.abort(f"{temp_c:.2f} degC above the zone max {s.max_c:g} degC")
        elif now_s - self.started_s > s.timeout_s:
            self.abort(f"timeout after {now_s - self.started_s:.0f} s")
        if self.status is not AutotuneStatus.RUNNING:
            return 0.0
        self._cycle_max = max(self._cycle_max, temp_c)
        self._cycle_min = min(self._cycle_min, temp_c)
        if self._heating and temp_c > s.target_c + s.hysteresis_c:
            self._heating = False
            self._to_low_s = now_s
        elif not self._heating and temp_c < s.target_c - s.hysteresis_c:
            self._heating = True
            self._cycle_done(now_s)
            if self.status is not AutotuneStatus.RUNNING:
                return 0.0
        return self.bias + self.d if self._heating else self.bias - self.d

    def _cycle_done(self, now_s: float) -> None:
        start, to_low = self._to_high_s, self._to_low_s
        self._to_high_s = now_s
        if start is not None and to_low is not None:
            high_s, low_s = to_low - start, now_s - to_low
            amplitude = (self._cycle_max - self._cycle_min) / 2
            self.cycles_seen += 1
            asymmetry = abs(high_s - low_s) / (high_s + low_s)
            if self.cycles_seen > AUTOTUNE_SETTLE_CYCLES and asymmetry <= AUTOTUNE_SYMMETRY_TOLERANCE:
                self._good.append(_Cycle(high_s, low_s, amplitude, self.d))
            self._adapt_bias(high_s, low_s)
        self._cycle_max = -math.inf
        self._cycle_min = math.inf
        if len(self._good) >= self.settings.cycles:
            self._finish()
        elif self.cycles_seen >= AUTOTUNE_MAX_CYCLES:
            self.abort(f"no symmetric oscillation after {self.cycles_seen} cycles")

    def _adapt_bias(self, high_s: float, low_s: float) -> None:
        top = self.settings.output_max
        bias = self.bias + self.d * (high_s - low_s) / (high_s + low_s)
        self.bias = min(max(bias, AUTOTUNE_BIAS_MIN), top - AUTOTUNE_BIAS_MIN)
        self.d = min(self.bias, top - self.bias)

    def _finish(self) -> None:
        h = self.settings.hysteresis_c
        kus, tus, amps = [], [], []
        for c in self._good:
            if c.amplitude_c <= h:
                continue
            kus.append(4 * c.d / (math.pi * math.sqrt(c.amplitude_c**2 - h**2)))
            tus.append(c.high_s + c.low_s)
            amps.append(c.amplitude_c)
        if not kus:
            self.abort("oscillation no larger than the relay hysteresis")
            return
        ku, tu = statistics.median(kus), statistics.median(tus)
        classic, no_overshoot, tyreus_luyben = gains_from_ultimate(ku, tu)
        self.result = AutotuneResult(
            ku, tu, statistics.median(amps), self.bias, len(kus), classic, no_overshoot, tyreus_luyben
        )
        self.status = AutotuneStatus.DONE
