"""Read-only look at a buffer file from another process (the ``db`` CLI), while the service may run."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

from gateway.telemetry import schema
from gateway.telemetry.connection import BUSY_TIMEOUT_MS, file_bytes
from gateway.telemetry.cursor import Cursor, check_cursor
from gateway.telemetry.items import MS_PER_S, Item, rows_to_items

EXPORT_PAGE_SAMPLES = 5_000


def open_read_only(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise FileNotFoundError(f"no telemetry buffer at {path}")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


def _meta(conn: sqlite3.Connection) -> dict[str, Any]:
    return dict(conn.execute(schema.SELECT_META).fetchall())


def read_stats(path: Path) -> dict[str, Any]:
    """Size, rows, oldest/newest sample, acked cursor, drop counters."""
    with closing(open_read_only(path)) as conn:
        conn.execute("BEGIN")  # one snapshot for every figure
        meta = _meta(conn)
        first = conn.execute(schema.FIRST_SAMPLE).fetchone()
        last = conn.execute(schema.LAST_SAMPLE).fetchone()
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        stats = {
            "path": str(path),
            "size_bytes": file_bytes(path),
            "used_bytes": (pages - free) * page_size,
            "epoch": meta.get(schema.META_EPOCH),
            "rows": conn.execute(schema.COUNT_SAMPLES).fetchone()[0],
            "gap_markers": conn.execute(schema.COUNT_GAPS).fetchone()[0],
            "series": conn.execute("SELECT COUNT(*) FROM series").fetchone()[0],
            "oldest": {"seq": first[0], "ts": first[1] / MS_PER_S} if first else None,
            "newest": {"seq": last[0], "ts": last[1] / MS_PER_S} if last else None,
            "last_seq": meta.get(schema.META_LAST_SEQ),
            "acked_cursor": Cursor(str(meta.get(schema.META_EPOCH)), int(meta.get(schema.META_ACKED_SEQ, 0))).encode(),
            "dropped_samples": meta.get(schema.META_DROPPED, 0),
            "rejected_samples": meta.get(schema.META_REJECTED, 0),
        }
        conn.execute("COMMIT")
    return stats


def export_items(path: Path, after: Cursor | None) -> Iterator[Item]:
    """Every item after ``after`` (default: the acked cursor), oldest first. CursorError for a bad cursor."""
    with closing(open_read_only(path)) as conn:
        meta = _meta(conn)
        epoch, last_seq = str(meta[schema.META_EPOCH]), int(meta.get(schema.META_LAST_SEQ, 0))
        if after is not None:
            check_cursor(after, epoch=epoch, last_seq=last_seq)
        start = int(meta.get(schema.META_ACKED_SEQ, 0)) if after is None else after.seq
        names = {int(i): (str(s), str(m)) for i, s, m in conn.execute(schema.SELECT_SERIES)}
        while True:
            rows = conn.execute(schema.SELECT_AFTER,
                                {"after": start, "upto": last_seq, "limit": EXPORT_PAGE_SAMPLES}).fetchall()
            if not rows:
                return
            yield from rows_to_items(rows, names)
            start = rows[-1][0]
