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
"""Longest line including the LF (and a CR before it, if any)."""
VALUE_MAX_CHARS: Final = 32
SEQ_MIN: Final = 1
SEQ_MAX: Final = 65535
TEL_COUNTER_MODULO: Final = 65536
"""``n`` in ``TEL`` runs 0..65535 and wraps."""
CRC_INIT: Final = 0xFFFF
CRC_HEX_DIGITS: Final = 4
UNSOLICITED_SEQ: Final = "!"

# --- Request/reply timing (spec) ------------------------------------------
CONTROLLER_REPLY_DEADLINE_MS: Final = 50
REPLY_TIMEOUT_MS: Final = 100
MAX_RETRIES: Final = 3
"""Resends of one request (same SEQ) after the first send, before the link is lost."""
TEL_LOST_PERIODS: Final = 3
"""Telemetry periods without a ``TEL`` frame after which the link is lost."""
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
EVENT_QUEUE_MAX_ITEMS: Final = 256
"""Events kept per subscriber; the oldest are dropped (and counted) beyond this."""

# --- Simulated controller (implementation) --------------------------------
SIM_TICK_MS: Final = 5
SIM_UPTIME_WRAP_MS: Final = 2**32
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
MONITOR_DEFAULT_TEL_MS: Final = 500
MONITOR_CONNECT_TIMEOUT_S: Final = 10.0
MONITOR_COUNTERS_INTERVAL_S: Final = 1.0
