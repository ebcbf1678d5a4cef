"""Tables of the telemetry buffer (its own file, ``telemetry.db``), and the SQL that works on them.

A sample costs about 25 bytes on disk: ``seq`` is the rowid itself (no separate key), ``ts_ms`` an
integer (6 bytes), ``series`` a small integer into the ``series`` dictionary (1-2 bytes) instead of two
strings, ``value`` a REAL (SQLite stores integral values as small integers). Rows are appended in key
order, so leaf pages fill completely.

``gaps`` holds one marker per run of samples dropped on overflow, keyed by the sequence of the last
sample it replaces: merged with ``samples`` in sequence order it sits exactly where the lost data was.
``meta`` holds the epoch, the newest sequence ever committed (never reused, even when every row has
been deleted), the acked sequence and the persistent drop counters.
"""

from __future__ import annotations

from typing import Final

from gateway.telemetry.const import APPLICATION_ID, GAP_METRIC, GAP_SOURCE, MULTI_ROW_INSERT_ROWS, SCHEMA_VERSION

CREATE_STATEMENTS: Final = (
    "CREATE TABLE IF NOT EXISTS series ("
    " id INTEGER PRIMARY KEY, source TEXT NOT NULL, metric TEXT NOT NULL, UNIQUE (source, metric))",
    "CREATE TABLE IF NOT EXISTS samples ("
    " seq INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, series INTEGER NOT NULL, value REAL)",
    "CREATE TABLE IF NOT EXISTS gaps ("
    " seq INTEGER PRIMARY KEY, count INTEGER NOT NULL, first_seq INTEGER NOT NULL,"
    " first_ts_ms INTEGER NOT NULL, last_ts_ms INTEGER NOT NULL, recorded_ms INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID",
    f"PRAGMA application_id = {APPLICATION_ID}",
    f"PRAGMA user_version = {SCHEMA_VERSION}",
)

# meta keys
META_EPOCH: Final = "epoch"
META_LAST_SEQ: Final = "last_seq"
META_ACKED_SEQ: Final = "acked_seq"
META_DROPPED: Final = "dropped_samples"
META_REJECTED: Final = "rejected_samples"
META_CREATED_MS: Final = "created_ms"

INSERT_SAMPLE: Final = "INSERT INTO samples (seq, ts_ms, series, value) VALUES (?, ?, ?, ?)"
INSERT_SAMPLES_MULTI: Final = (
    "INSERT INTO samples (seq, ts_ms, series, value) VALUES " + ", ".join(["(?, ?, ?, ?)"] * MULTI_ROW_INSERT_ROWS))
INSERT_SERIES: Final = "INSERT INTO series (id, source, metric) VALUES (?, ?, ?)"
SET_META: Final = "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
SELECT_META: Final = "SELECT key, value FROM meta"
SELECT_SERIES: Final = "SELECT id, source, metric FROM series"

# Oldest first: samples and gap markers after a sequence, in one ordered stream. Non-finite values come
# out as NULL (JSON has no infinities; SQLite stores NaN as NULL already).
# Columns: seq, ts_ms, series (NULL for a gap), value, gap count, first_seq, first_ts_ms
SELECT_AFTER: Final = (
    "SELECT seq, ts_ms, series, CASE WHEN abs(value) <= 1.7976931348623157e308 THEN value END, NULL, NULL, NULL "
    "FROM samples WHERE seq > :after AND seq <= :upto "
    "UNION ALL "
    "SELECT seq, last_ts_ms, NULL, count, count, first_seq, first_ts_ms FROM gaps WHERE seq > :after AND seq <= :upto "
    "ORDER BY 1 LIMIT :limit"
)

# The same stream rendered as JSON by SQLite itself (the pull API's hot path): (seq, item JSON text).
# Only rows up to :upto (the newest committed sequence the store has confirmed) are read.
SELECT_AFTER_JSON: Final = (
    "SELECT s.seq, json_object('seq', s.seq, 'ts', s.ts_ms / 1000.0, 'source', n.source, 'metric', n.metric, "
    "'value', CASE WHEN abs(s.value) <= 1.7976931348623157e308 THEN s.value END) "
    "FROM samples AS s JOIN series AS n ON n.id = s.series WHERE s.seq > :after AND s.seq <= :upto "
    "UNION ALL "
    f"SELECT seq, json_object('seq', seq, 'ts', last_ts_ms / 1000.0, 'source', '{GAP_SOURCE}', 'metric', '{GAP_METRIC}', "
    "'value', count, 'gap', json_object('count', count, 'first_seq', first_seq, 'last_seq', seq, "
    "'first_ts', first_ts_ms / 1000.0, 'last_ts', last_ts_ms / 1000.0)) "
    "FROM gaps WHERE seq > :after AND seq <= :upto "
    "ORDER BY 1 LIMIT :limit"
)

OLDEST_SAMPLES: Final = "SELECT seq, ts_ms FROM samples ORDER BY seq LIMIT 1 OFFSET ?"
DELETE_SAMPLES_THROUGH: Final = "DELETE FROM samples WHERE seq <= ?"
DELETE_GAPS_THROUGH: Final = "DELETE FROM gaps WHERE seq <= ?"
FIRST_SAMPLE: Final = "SELECT seq, ts_ms FROM samples ORDER BY seq LIMIT 1"
LAST_SAMPLE: Final = "SELECT seq, ts_ms FROM samples ORDER BY seq DESC LIMIT 1"
LAST_GAP: Final = "SELECT seq, count, first_seq, first_ts_ms, last_ts_ms FROM gaps ORDER BY seq DESC LIMIT 1"
COUNT_SAMPLES: Final = "SELECT COUNT(*) FROM samples"
COUNT_GAPS: Final = "SELECT COUNT(*) FROM gaps"
MAX_SEQS: Final = "SELECT (SELECT MAX(seq) FROM samples), (SELECT MAX(seq) FROM gaps)"

GAP_NAMES: Final = (GAP_SOURCE, GAP_METRIC)
