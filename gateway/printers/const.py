"""Every number and name of the printer part that matters, with its unit."""

from __future__ import annotations

MQTT_PORT = 8883
MQTT_USERNAME = "bblp"
KEEPALIVE_S = 30
CONNECT_TIMEOUT_S = 10.0

OFFLINE_AFTER_S = 60.0  # no report for this long: offline, and a full report is requested again
PUSHALL_AFTER_SILENCE_S = 10.0  # no report at all for this long: ask for a full report again
PUSHALL_UNANSWERED_S = 60.0  # deltas come but the full report asked for did not: ask again after this
PUSHALL_BACKOFF_MAX_S = 300.0  # either wait doubles up to this (public notes: a full report is heavy, ~5 min)
WATCH_INTERVAL_S = 0.5  # how often the driver checks for silence
RECONNECT_INITIAL_S = 1.0
RECONNECT_MAX_S = 60.0
RECONNECT_JITTER_FRACTION = 0.3
STABLE_SESSION_S = 30.0  # a session that lasted this long resets the back-off

MAX_REPORT_BYTES = 256 * 1024  # larger payloads are dropped unparsed
MAX_MERGE_DEPTH = 8  # deeper nesting in a report is dropped
MAX_STATE_KEYS = 2000  # keys (all levels) of one printer's merged state; a report that would pass it is dropped
MAX_KEY_CHARS = 64  # longer keys in a report are dropped
MAX_VALUE_CHARS = 512  # longer strings in a report are dropped
MAX_LIST_ITEMS = 64  # longer lists in a report are dropped
# Together: one printer's state stays below MAX_STATE_KEYS * (MAX_KEY_CHARS + MAX_VALUE_CHARS), about 1 MB.
RECENT_COMMANDS_KEPT = 20
COMMAND_REPLY_TIMEOUT_S = 10.0
MAX_INBOX_MESSAGES = 1000  # per printer; older messages are dropped by the client's queue

TEMPERATURE_SAMPLE_INTERVAL_S = 1.0  # at most one telemetry sample per metric and printer per interval

DEFAULT_NOZZLE_MAX_C = 300.0
DEFAULT_BED_MAX_C = 110.0
ABSOLUTE_NOZZLE_MAX_C = 320.0
ABSOLUTE_BED_MAX_C = 130.0

# Newer firmware refuses unsigned commands with this error code and reason.
VERIFICATION_FAILED_ERR_CODE = 84033543
VERIFICATION_FAILED_REASON = "mqtt message verify failed"

SERIAL_PATTERN = r"^[A-Z0-9]{8,20}$"
SHA256_PIN_PATTERN = r"^[0-9a-f]{64}$"


def report_topic(serial: str) -> str:
    return f"device/{serial}/report"


def request_topic(serial: str) -> str:
    return f"device/{serial}/request"

FULL_REPORT_MSG = 0  # print.msg of a full report (pushall's answer, or an X1's periodic push); deltas carry 1
# A driver numbers its requests from a random start in [BASE, BASE + SPREAD): far from the small
# counters printers use for their own pushes, and different after every gateway restart.
SEQUENCE_ID_BASE = 100_000_000
SEQUENCE_ID_SPREAD = 800_000_000
