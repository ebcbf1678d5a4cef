"""Every number of the push sync that matters, named once with its unit."""

from __future__ import annotations

BATCH_SIZE_DEFAULT = 5000
BATCH_SIZE_MAX = 50_000

CONNECT_TIMEOUT_S_DEFAULT = 10.0
REQUEST_TIMEOUT_S_DEFAULT = 60.0
BACKOFF_INITIAL_S_DEFAULT = 1.0
BACKOFF_MAX_S_DEFAULT = 300.0
MAX_ATTEMPTS_DEFAULT = 3
"""Attempts of a batch the receiver refuses (4xx, 500) before it is dead-lettered."""
IDLE_POLL_S_DEFAULT = 1.0
"""How long the worker waits before looking again when the buffer is empty."""

RETRY_AFTER_MAX_S = 3600.0
"""A Retry-After beyond this is clamped: a receiver must not park the gateway for days."""
CERT_RECHECK_INTERVAL_S = 10.0
"""While stopped on a certificate problem: how often the CA/cert/key files are checked for a change."""
STATUS_PERSIST_INTERVAL_S = 5.0
"""At most this often the worker writes its status snapshot (read by `edge-gateway sync status`)."""
RATE_WINDOW_S = 60.0
"""Delivered-samples rate is averaged over this window."""
GZIP_LEVEL = 1
"""gzip level of ndjson+gzip bodies: level 1 gives most of the size win at a fraction of the CPU."""
DEADLETTER_MAX_BATCHES = 1000
"""Dead-letter table cap; beyond it the oldest set-aside batches are removed (and counted)."""
MESSAGE_MAX_CHARS = 300

IDEMPOTENCY_HEADER = "Idempotency-Key"
NDJSON_CONTENT_TYPE = "application/x-ndjson"
JSON_CONTENT_TYPE = "application/json"
STOPPED_RECHECK_S = 300.0
"""While stopped on a certificate problem with unchanged files: try again this often anyway (the endpoint may have been fixed)."""
TLS_PROBE_TIMEOUT_S = 1.0
"""After a reset connection: how long a fresh idle TLS connection is watched for the endpoint refusing us."""
ACK_FINISH_TIMEOUT_S = 2.0
"""When the part stops, an ack already running gets this long to finish before it is cancelled."""
