"""A SQLite-file-backed stand-in for the telemetry store, used until the real store lands (issue 6).

Same cursor semantics as the pull API: rows oldest first after (epoch, seq); ack deletes up to a cursor;
an older ack is harmless; a cursor of another epoch is stale. Usable from a subprocess (real file).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

import aiosqlite

from gateway.sync.batch import SyncRow
from gateway.sync.source import SourceCursor, StaleCursorError

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (id INTEGER PRIMARY KEY CHECK (id = 1), epoch TEXT NOT NULL, acked INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sample (seq INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL,"
    " source TEXT NOT NULL, metric TEXT NOT NULL, value REAL)",
)


def fill(path: Path, rows: Iterable[tuple[float, str, str, float]], epoch: str = "e1") -> None:
    """Synchronously append rows (ts, source, metric, value) to the file (creating it)."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        for statement in SCHEMA:
            conn.execute(statement)
        conn.execute("INSERT OR IGNORE INTO meta (id, epoch, acked) VALUES (1, ?, 0)", (epoch,))
        conn.executemany("INSERT INTO sample (ts, source, metric, value) VALUES (?, ?, ?, ?)", rows)


class SqliteSource:
    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    @classmethod
    async def open(cls, path: Path, epoch: str = "e1") -> SqliteSource:
        fill(path, [], epoch)
        db = await aiosqlite.connect(path, isolation_level=None)
        await db.execute("PRAGMA busy_timeout = 5000")
        await db.execute("PRAGMA synchronous = FULL")
        return cls(db)

    async def close(self) -> None:
        await self._db.close()

    async def append(self, rows: Sequence[tuple[float, str, str, float]]) -> None:
        await self._db.execute("BEGIN IMMEDIATE")  # one transaction (autocommit would commit every row)
        await self._db.executemany("INSERT INTO sample (ts, source, metric, value) VALUES (?, ?, ?, ?)", rows)
        await self._db.execute("COMMIT")

    async def _meta(self) -> tuple[str, int]:
        async with self._db.execute("SELECT epoch, acked FROM meta WHERE id = 1") as cursor:
            row = await cursor.fetchone()
        assert row is not None
        return str(row[0]), int(row[1])

    async def acked_cursor(self) -> SourceCursor:
        epoch, acked = await self._meta()
        return SourceCursor(epoch, acked)

    async def read_after(self, cursor: SourceCursor, limit: int) -> Sequence[SyncRow]:
        epoch, _ = await self._meta()
        if cursor.epoch != epoch:
            raise StaleCursorError(epoch)
        async with self._db.execute(
            "SELECT seq, ts, source, metric, value FROM sample WHERE seq > ? ORDER BY seq LIMIT ?", (cursor.seq, limit)
        ) as rows:
            return [SyncRow(*row) for row in await rows.fetchall()]

    async def ack(self, cursor: SourceCursor) -> None:
        epoch, acked = await self._meta()
        if cursor.epoch != epoch:
            raise StaleCursorError(epoch)
        if cursor.seq <= acked:
            return
        await self._db.execute("BEGIN IMMEDIATE")
        await self._db.execute("DELETE FROM sample WHERE seq <= ?", (cursor.seq,))
        await self._db.execute("UPDATE meta SET acked = ? WHERE id = 1", (cursor.seq,))
        await self._db.execute("COMMIT")

    async def backlog(self) -> int:
        async with self._db.execute("SELECT COUNT(*) FROM sample") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0
