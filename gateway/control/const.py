"""Every number of the temperature control core, named once with its unit.

Safety defaults follow established 3D-printer / extruder firmware practice (thermal runaway
hysteresis 4 degC over a 40 s protection period, heating watch +2 degC within 20 s, PID functional
range 10 degC). PID defaults are tuned for the simulated barrel zone of ``firmware_bridge`` (800 W,
500 s time constant, 4 s dead time, 2 s sensor lag) and are safe (slow rather than oscillating) on
a real zone until it is autotuned.
"""

from __future__ import annotations

from typing import Final

# --- Fixed-rate loop --------------------------------------------------------------------------
LOOP_RATE_HZ_DEFAULT: Final = 10.0
LOOP_RATE_HZ_MIN: Final = 1.0
LOOP_RATE_HZ_MAX: Final = 50.0
TIMING_WINDOW_SAMPLES: Final = 6000
"""Periods the jitter percentiles are computed over (10 min at 10 Hz)."""

# --- PID --------------------------------------------------------------------------------------
PID_KP_DEFAULT: Final = 0.1
"""Proportional gain, output fraction per degC of error."""
PID_KI_DEFAULT: Final = 0.002
"""Integral gain, output fraction per degC*s of accumulated error."""
PID_KD_DEFAULT: Final = 0.5
"""Derivative gain on the measurement, output fraction per degC/s."""
PID_DERIVATIVE_FILTER_S: Final = 2.0
"""Time constant of the first-order filter on d(temp)/dt (keeps sensor noise out of the output)."""
PID_FUNCTIONAL_RANGE_C: Final = 10.0
"""Beyond this distance from the setpoint the zone is driven full on (below) or off (above)."""
PID_INTEGRAL_LIMIT: Final = 1.0
"""Largest integral term, as an output fraction (the term is kept in 0..this)."""
SETPOINT_RAMP_C_PER_S_DEFAULT: Final = 0.0
"""Setpoint ramp limit; 0 = the setpoint applies at once."""
OUTPUT_MIN: Final = 0.0
OUTPUT_MAX: Final = 1.0

# --- Safety supervisor ------------------------------------------------------------------------
ZONE_MAX_C_DEFAULT: Final = 280.0
"""Highest temperature a zone may reach before ``overtemp`` (below the board's hard limit)."""
SETPOINT_MARGIN_BELOW_MAX_C: Final = 15.0
"""Setpoints are accepted up to ``max_c`` minus this, so overshoot and noise never reach ``overtemp``."""
ZONE_MAX_C_LIMIT: Final = 450.0
"""No configuration may set a zone maximum above this."""
RUNAWAY_HYSTERESIS_C: Final = 4.0
"""Band below the setpoint a holding zone may sag into without counting as a runaway."""
RUNAWAY_PERIOD_S: Final = 40.0
"""Time a holding zone may stay below the band before ``runaway`` latches."""
WATCH_PERIOD_S: Final = 20.0
"""Window in which a heating zone must gain ``WATCH_INCREASE_C``."""
WATCH_INCREASE_C: Final = 2.0
"""Rise a heating zone must show within each ``WATCH_PERIOD_S``."""
WATCH_MIN_REQUIRED_C: Final = 0.5
"""During a setpoint ramp the required rise shrinks with the ramp; below this it is not judged."""
WATCH_RAMP_SHARE: Final = 0.5
"""During a ramp a zone must gain at least this share of the setpoint's rise in the window."""

# --- Relay autotune ---------------------------------------------------------------------------
AUTOTUNE_HYSTERESIS_C: Final = 0.3
"""Relay switching band around the target (a few times the sensor noise)."""
AUTOTUNE_CYCLES: Final = 5
"""Oscillations measured (after the settling ones) to compute Ku and Tu."""
AUTOTUNE_SETTLE_CYCLES: Final = 2
"""First oscillations ignored while the bias adapts."""
AUTOTUNE_MAX_CYCLES: Final = 30
"""Oscillations after which a tune that never became symmetric gives up."""
AUTOTUNE_SYMMETRY_TOLERANCE: Final = 0.15
"""Largest relative difference of the high and low half-periods of a cycle that counts."""
AUTOTUNE_OVERSHOOT_MARGIN_C: Final = 20.0
"""Abort when the zone rises this far above the autotune target."""
AUTOTUNE_TIMEOUT_S: Final = 3600.0
"""Abort an autotune that has not finished after this long."""
AUTOTUNE_BIAS_MIN: Final = 0.02
"""Smallest relay bias (output fraction), so the relay always has some swing."""
