"""Every number of the telemetry buffer that matters, named once with its unit."""

from __future__ import annotations

from typing import Final

# Flushing: producers' samples wait in memory at most this long (the crash-loss window).
FLUSH_INTERVAL_MS: Final = 250
FLUSH_BATCH_SAMPLES: Final = 20_000
"""A flush starts early once this many samples are pending; also the most rows one transaction inserts or
deletes (acks and drops go in transactions of this size), which sizes the WAL reserve."""
MULTI_ROW_INSERT_ROWS: Final = 250
"""Rows per INSERT statement of a batch (4 parameters each): fewer statement steps, less GIL traffic."""
MAX_PENDING_SAMPLES: Final = 500_000
"""Samples held in memory while the disk refuses writes; beyond this, new samples are dropped and counted."""
FLUSH_RETRY_DELAY_MS: Final = 1_000
"""After a failed write (I/O error, locked file), wait this long before trying the same batch again."""

# Size budget.
DEFAULT_MAX_BYTES: Final = 256 * 1024 * 1024
MIN_MAX_BYTES: Final = 256 * 1024
PAGE_SIZE_BYTES: Final = 4096
WAL_BUDGET_FRACTION: Final = 8
"""The WAL may use up to 1/8 of the byte budget (capped by WAL_BUDGET_MAX_BYTES); the rest is the file."""
WAL_BUDGET_MAX_BYTES: Final = 8 * 1024 * 1024
WAL_FRAME_HEADER_BYTES: Final = 24
WAL_HEADER_BYTES: Final = 32
ROW_BYTES_UPPER_BOUND: Final = 40
"""Bytes a sample row may take in a page (about 26 in practice), for sizing the WAL of one batch."""
TRANSACTION_OVERHEAD_PAGES: Final = 8
"""Pages a transaction touches besides the new rows' leaves: b-tree parents, meta, series, gaps, free list."""
MIN_DB_PAGES: Final = 32
DROP_CHUNK_MIN_SAMPLES: Final = 1_000
"""On overflow, drop_oldest deletes at least this many (at most batch_size) of the oldest samples per round."""
OVERFLOW_MAX_ROUNDS: Final = 8
"""Drop-and-retry rounds for one batch before it is counted as lost (a disk that stays full)."""
REJECT_PROBE_INTERVAL_MS: Final = 1_000
"""With reject_new on a full buffer, producers are refused until an ack frees space or this probe retries."""

# Reading and acknowledging.
PAGE_DEFAULT_SAMPLES: Final = 1_000
PAGE_MAX_SAMPLES: Final = 10_000

# Identity of the file and its contents.
SCHEMA_VERSION: Final = 1
APPLICATION_ID: Final = 0x45475442  # "EGTB": edge-gateway telemetry buffer
EPOCH_HEX_CHARS: Final = 16
MAX_SERIES: Final = 65_535
"""Distinct (source, metric) pairs; samples of further new series are refused and counted."""
GAP_SOURCE: Final = "telemetry"
GAP_METRIC: Final = "gap"
THREAD_JOIN_TIMEOUT_S: Final = 5.0
