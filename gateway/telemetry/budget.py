"""The byte budget and the overflow policy: pure rules, no I/O.

SQLite enforces the budget itself: ``max_page_count`` caps the database file, and the WAL is kept
bounded by checkpointing every ``wal_autocheckpoint`` pages and truncating it back to
``journal_size_limit`` afterwards. An insert that would pass the cap fails with SQLITE_FULL, exactly as
a full disk (ENOSPC) does; both are handled as overflow by the store, never as a crash or a retry loop.
"""

from __future__ import annotations

import errno
import sqlite3
from dataclasses import dataclass

from gateway.telemetry.const import (
    DROP_CHUNK_MIN_SAMPLES,
    MIN_DB_PAGES,
    PAGE_SIZE_BYTES,
    ROW_BYTES_UPPER_BOUND,
    TRANSACTION_OVERHEAD_PAGES,
    WAL_BUDGET_FRACTION,
    WAL_BUDGET_MAX_BYTES,
    WAL_FRAME_HEADER_BYTES,
    WAL_HEADER_BYTES,
)


@dataclass(frozen=True, slots=True)
class BudgetPragmas:
    max_page_count: int
    wal_autocheckpoint_pages: int
    journal_size_limit_bytes: int

    def statements(self) -> tuple[str, ...]:
        return (
            f"PRAGMA max_page_count = {self.max_page_count}",
            f"PRAGMA wal_autocheckpoint = {self.wal_autocheckpoint_pages}",
            f"PRAGMA journal_size_limit = {self.journal_size_limit_bytes}",
        )


def batch_wal_bytes(batch_size: int, page_size: int = PAGE_SIZE_BYTES) -> int:
    """WAL bytes one batch transaction may append (rows, their index pages, meta and a gap marker)."""
    pages = batch_size * ROW_BYTES_UPPER_BOUND // page_size + TRANSACTION_OVERHEAD_PAGES
    return pages * (page_size + WAL_FRAME_HEADER_BYTES)


def budget_pragmas(max_bytes: int, batch_size: int, page_size: int = PAGE_SIZE_BYTES) -> BudgetPragmas:
    """Split ``max_bytes`` between the database file and its WAL.

    The WAL gets 1/8 of the budget (at most WAL_BUDGET_MAX_BYTES), and never less than two batch
    transactions. It is checkpointed once it holds the reserve minus one transaction, so with the
    transaction that crosses that mark it stays inside the reserve; ``journal_size_limit`` truncates it back.
    """
    txn_bytes = batch_wal_bytes(batch_size, page_size)
    frame = page_size + WAL_FRAME_HEADER_BYTES
    wal_bytes = max(min(WAL_BUDGET_MAX_BYTES, max_bytes // WAL_BUDGET_FRACTION), 2 * txn_bytes)
    checkpoint_frames = max(1, (wal_bytes - txn_bytes - WAL_HEADER_BYTES) // frame)
    db_pages = (max_bytes - wal_bytes) // page_size
    return BudgetPragmas(max_page_count=db_pages, wal_autocheckpoint_pages=checkpoint_frames,
                         journal_size_limit_bytes=wal_bytes)


def budget_problem(max_bytes: int, batch_size: int) -> str | None:
    """Why ``max_bytes`` cannot hold the WAL reserve for ``batch_size`` plus a useful file, or None."""
    pages = budget_pragmas(max_bytes, batch_size).max_page_count
    if pages < MIN_DB_PAGES:
        needed = max_bytes + (MIN_DB_PAGES - pages) * PAGE_SIZE_BYTES
        return f"too small for batch_size {batch_size}: at least {needed} bytes (or a smaller batch_size)"
    return None


def drop_chunk(batch: int, batch_size: int) -> int:
    """How many of the oldest samples drop_oldest deletes to make room for ``batch`` new ones.

    At least DROP_CHUNK_MIN_SAMPLES (fewer rounds of full-drop-retry), never more than ``batch_size``: a
    delete writes about as much WAL as an insert of the same rows, and the WAL reserve holds one batch.
    """
    return min(batch_size, max(DROP_CHUNK_MIN_SAMPLES, batch))


def is_full_error(exc: BaseException) -> bool:
    """SQLITE_FULL (budget reached, or the disk is full) or an ENOSPC surfacing as an OS error."""
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        if code is not None and code & 0xFF == sqlite3.SQLITE_FULL:
            return True
        return "database or disk is full" in str(exc)
    return isinstance(exc, OSError) and exc.errno == errno.ENOSPC


@dataclass
class Counters:
    """What status, ``db stats`` and metrics report about losses and writes."""

    dropped_samples: int = 0  # deleted by drop_oldest before an ack (persisted; gap markers say which)
    rejected_samples: int = 0  # refused under reject_new, or lost with a batch the full disk refused (persisted)
    dropped_pending: int = 0  # refused because too much was waiting in memory (disk failing)
    refused_series: int = 0  # samples of a new series beyond MAX_SERIES
    flushes: int = 0
    write_errors: int = 0
    last_flush_at: float | None = None
    last_error: str | None = None
    disk_full_events: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "dropped_samples": self.dropped_samples, "rejected_samples": self.rejected_samples,
            "dropped_pending": self.dropped_pending, "refused_series": self.refused_series,
            "flushes": self.flushes, "write_errors": self.write_errors, "disk_full_events": self.disk_full_events,
            "last_flush_at": self.last_flush_at, "last_error": self.last_error,
        }
