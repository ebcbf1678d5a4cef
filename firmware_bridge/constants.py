"""Every timing and limit of serial protocol v1, named once with its unit.

Values marked *spec* come from ``shared/specs/serial-protocol.md``; the others are
choices of this implementation (host link or simulated controller).
"""

from __future__ import annotations

from typing import Final

# --- Wire format (spec) ----------------------------------------------------
PROTO_VERSION: Final = 1
BAUD_RATE_BPS: Final = 115200
MAX_LINE_BYTES: Final = 200
"""Longest line including the LF; a CR before the LF is not counted."""
VALUE_MAX_CHARS: Final = 32
SEQ_MIN: Final = 1
SEQ_MAX: Final = 65535
TEL_COUNTER_MODULO: Final = 65536
"""``n`` in ``TEL`` runs 0..65535 and wraps."""
UPTIME_WRAP_MS: Final = 2**32
"""A board's ``up`` is taken as a 32-bit millisecond counter (wraps after 49.7 days)."""
UPTIME_WRAP_GRACE_MS: Final = 60_000
"""An uptime falling from this close to the wrap is a wrap, not a restart."""
CRC_INIT: Final = 0xFFFF
CRC_HEX_DIGITS: Final = 4
UNSOLICITED_SEQ: Final = "!"

# --- Request/reply timing (spec) ------------------------------------------
CONTROLLER_REPLY_DEADLINE_MS: Final = 50
REPLY_TIMEOUT_MS: Final = 100
MAX_RETRIES: Final = 3
"""Resends of one request (same SEQ) after the first send, before the link is lost."""
LINK_LOST_MS_DEFAULT: Final = 1000
"""The link is lost (and every zone's temperature stale) after this long without a valid ``TEL``, or
with requests sent and none answered, unless :data:`LINK_LOST_TEL_PERIODS_DEFAULT` periods are longer."""
LINK_LOST_TEL_PERIODS_DEFAULT: Final = 5
"""The same limit counted in telemetry periods; the longer of the two applies."""
LINK_LOST_MS_MIN: Final = (1 + MAX_RETRIES) * REPLY_TIMEOUT_MS
"""A loss window shorter than one request's sends and resends would end requests still being retried."""
LINK_LOST_MS_MAX: Final = 60_000
LINK_LOST_TEL_PERIODS_MIN: Final = 2
LINK_LOST_TEL_PERIODS_MAX: Final = 100
HEARTBEAT_DEFAULT_MS: Final = 1000
HEARTBEAT_HOST_DIVISOR: Final = 4
"""The host sends a frame at least every ``hb / HEARTBEAT_HOST_DIVISOR`` ms."""

# --- Value ranges (spec) --------------------------------------------------
MAX_ZONES: Final = 8
OUTPUT_MAX_PERMILLE: Final = 1000
MOTOR_RPM_MAX: Final = 200.0
TEL_PERIOD_MIN_MS: Final = 20
TEL_PERIOD_MAX_MS: Final = 5000
SENSOR_FAULT_SAMPLES: Final = 4
"""Consecutive ``open``/``short`` samples that latch fault ``sensor``."""

# --- Host link (implementation) -------------------------------------------
WRITE_BUFFER_MAX_BYTES: Final = 4096
"""Bytes queued for a port that does not drain; a frame that does not fit is dropped."""
READ_CHUNK_BYTES: Final = 4096
DEFAULT_TEL_PERIOD_MS: Final = 100
"""Telemetry period the host link asks for after ``HELLO``."""
RECONNECT_BACKOFF_MIN_MS: Final = 100
RECONNECT_BACKOFF_MAX_MS: Final = 2000
LINK_CHECK_MIN_INTERVAL_MS: Final = 10
LINK_CHECK_MAX_INTERVAL_MS: Final = 250
"""Longest the link sleeps between checks of its telemetry watchdog and keep-alive."""
RESTART_PROBE_PERIODS: Final = 2
"""Telemetry periods without a valid ``TEL`` after which the link asks the board its uptime (``STATUS``)
once: a board that restarted with its ``BOOT`` lost has telemetry off and would never say so in ``TEL``."""
RESTART_PROBE_MIN_MS: Final = 250
"""...but not before this long, so one or two frames lost on a noisy line cost no request."""
EVENT_QUEUE_MAX_ITEMS: Final = 256
"""Events kept per subscriber; the oldest are dropped (and counted) beyond this."""

# --- Simulated controller (implementation) --------------------------------
SIM_TICK_MS: Final = 5
SIM_UPTIME_WRAP_MS: Final = UPTIME_WRAP_MS
"""The board's ``up`` is a 32-bit millisecond counter (wraps after 49.7 days), so ``TEL`` fits 200 bytes."""
SENSOR_SAMPLE_PERIOD_MS: Final = 50
SIM_DEFAULT_ZONES: Final = 3
SIM_DEFAULT_TMAX_C: Final = 300.0
SIM_FIRMWARE_VERSION: Final = "1.0.0-sim"
SIM_BOARD_ID: Final = "SIM0001"
PLANT_STEP_S: Final = 0.1
"""Fixed integration step of the thermal plant, in plant (simulated) seconds."""
SIM_CONTROL_MAX_COMMAND_BYTES: Final = 256
SIM_CONTROL_CLIENT_TIMEOUT_S: Final = 5.0

# --- Monitor (implementation) ---------------------------------------------
MONITOR_DEFAULT_TEL_MS: Final = 200
"""Five periods of it fit the default loss window and a default board heartbeat (1000 ms)."""
MONITOR_CONNECT_TIMEOUT_S: Final = 10.0
MONITOR_COUNTERS_INTERVAL_S: Final = 1.0
