"""Every number of the control process shell (loop runner, IPC, GPIO, gateway client), named once.

The pure control core's numbers (PID, safety, autotune, loop rate bounds) are in
:mod:`gateway.control.const`.
"""

from __future__ import annotations

from typing import Final

# --- Loop runner ------------------------------------------------------------------------------
PRECISE_WAKE_MARGIN_S: Final = 0.002
"""The loop sleeps on the event loop until this long before a deadline, then in a precise blocking
sleep for the rest (epoll waits in whole milliseconds; ``clock_nanosleep`` does not)."""
LOOP_TEL_PERIOD_MAX_MS: Final = 200
"""Longest telemetry period the loop asks for (a slow loop gets several frames per period): five of them
fit the default loss window of 1000 ms, which must not exceed a default board heartbeat (1000 ms)."""
TIMING_REFRESH_S: Final = 1.0
"""How often the loop recomputes its timing percentiles for the published state."""
RESET_TEL_WAIT_S: Final = 1.0
"""How long a fault reset waits for telemetry showing the controller's fault cleared."""
MOTOR_RPM_MAX: Final = 200.0
"""Highest screw speed the controller accepts (serial protocol)."""
HOLDING_TOLERANCE_C: Final = 4.0
"""Cold-extrusion interlock: a holding zone must be within this of its setpoint."""

# --- Process and IPC --------------------------------------------------------------------------
IPC_LINE_MAX_BYTES: Final = 256 * 1024
"""Longest IPC message line (a state message of 8 zones is a few kB)."""
IPC_REPLY_TIMEOUT_S: Final = 5.0
"""How long the gateway waits for the control process to answer a command."""
PROCESS_START_TIMEOUT_S: Final = 15.0
"""How long the gateway waits for the control process's first message after spawning it."""
PROCESS_STOP_TIMEOUT_S: Final = 1.5
"""How long the gateway waits for the control process to exit after closing its socket."""
STATE_STALE_S: Final = 2.0
"""The control loop counts as dead when its last state message is older than this."""
STARTUP_GRACE_S: Final = 20.0
"""Watchdog grace after the extruder part starts, before the first state message is required."""

# --- GPIO -------------------------------------------------------------------------------------
ESTOP_BOUNCE_MS_DEFAULT: Final = 20
"""Debounce time of the e-stop input."""
ESTOP_PIN_DEFAULT: Final = 17
INTERLOCK_PIN_DEFAULT: Final = 27
LIGHT_RED_PIN_DEFAULT: Final = 22
LIGHT_AMBER_PIN_DEFAULT: Final = 23
LIGHT_GREEN_PIN_DEFAULT: Final = 24

# --- Telemetry and simulated site -------------------------------------------------------------
TELEMETRY_PERIOD_S_DEFAULT: Final = 1.0
"""How often the extruder's samples are handed to the telemetry store (decimation)."""
SIMULATOR_LINK_NAME: Final = "extruder-sim.tty"
"""Stable symlink (in the state directory) to the simulated controller's pty."""
SIMULATOR_CONTROL_NAME: Final = "extruder-sim.sock"
"""The simulated controller's fault-injection socket (in the state directory)."""
SIMULATOR_START_TIMEOUT_S: Final = 10.0
GAINS_FILE_NAME: Final = "extruder-gains.json"
"""Autotune results (per zone gains) stored in the state directory, applied at start."""
