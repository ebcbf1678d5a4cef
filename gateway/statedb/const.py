"""Every limit, mode and timeout of the gateway's state database, named once with its unit.

Durations end in ``_S`` or ``_MS``, file modes in ``_MODE``, counts say what they count.
"""

from __future__ import annotations

from typing import Callable, Final

Clock = Callable[[], float]
"""Injected wall-clock time source (seconds since the epoch, like ``time.time``): stored timestamps."""

STATE_DB_FILENAME: Final = "state.db"
"""Name of the state database inside the gateway's state directory."""

STATE_DIR_MODE: Final = 0o700
"""Mode given to the state directory when ``open_state_db`` has to create it."""

STATE_DB_FILE_MODE: Final = 0o600
"""Mode given to a new database file (SQLite gives its ``-wal``/``-shm`` files the same mode)."""

BUSY_TIMEOUT_MS: Final = 5_000
"""How long a statement waits for another process's write lock before failing with ``database is locked``."""

WAL_SWITCH_RETRY_INTERVAL_S: Final = 0.02
"""Pause between attempts to switch a new file to WAL while another process holds it (see connection)."""

THREAD_JOIN_TIMEOUT_S: Final = 5.0
"""How long closing waits for aiosqlite's worker thread to exit (it exits right after the close)."""

JTI_MAX_CHARS: Final = 128
"""Longest token id the registry accepts (the API accepts at most 64)."""

REVOCATION_PRUNE_GRACE_S: Final = 300.0
"""Revocations are kept this long past the token's ``exp``: a token inside the verifier's clock leeway
(at most 300 s, see ``AuthSection.leeway_s``) must still be refused."""

REVOCATIONS_COUNTER: Final = "revocations"
"""Row of ``state_counter`` that triggers bump on every change of ``revoked_jti``."""
