"""Dead letters: batches the receiver refused for good, set aside with their rows so sync can move on.

Kept in the state database (``state.db``), not in the telemetry buffer: the buffer is bounded and evicts
its oldest rows on overflow, while a set-aside batch must stay until a person looks at it; the state db
is small, fsynced on every commit and already opened by the service and the CLI. The rows are stored as
the batch's own gzip NDJSON body. The key is unique, so a batch dead-lettered again after a crash
(before its rows were acked in the buffer) is recorded once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import aiosqlite

from gateway.sync import const
from gateway.sync.batch import Batch, encode_batch

SCHEMA: tuple[str, ...] = (
    """
    CREATE TABLE IF NOT EXISTS sync_dead_letter (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        idempotency_key TEXT NOT NULL UNIQUE,
        epoch TEXT NOT NULL,
        first_seq INTEGER NOT NULL,
        last_seq INTEGER NOT NULL,
        count INTEGER NOT NULL,
        reason TEXT NOT NULL,
        created_at REAL NOT NULL,
        body BLOB NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS sync_counter (
        name TEXT PRIMARY KEY NOT NULL,
        value INTEGER NOT NULL
    )
    """,
)


@dataclass(frozen=True)
class DeadLetter:
    id: int
    key: str
    epoch: str
    first_seq: int
    last_seq: int
    count: int
    reason: str
    created_at: float


@dataclass(frozen=True)
class DeadLetterSummary:
    batches: int
    samples: int
    evicted_batches: int


class DeadLetterStore:
    """The ``sync_dead_letter`` table on an autocommit aiosqlite connection (single-statement writes)."""

    def __init__(self, db: aiosqlite.Connection, clock: Callable[[], float],
                 max_batches: int = const.DEADLETTER_MAX_BATCHES) -> None:
        self._db = db
        self._clock = clock
        self._max_batches = max_batches

    async def ensure_schema(self) -> None:
        for statement in SCHEMA:
            await self._db.execute(statement)

    async def put(self, batch: Batch, reason: str) -> bool:
        """Set the batch aside; False if it was already there (same key). Evicts beyond the cap."""
        body = encode_batch(batch, "ndjson+gzip").body
        cursor = await self._db.execute(
            "INSERT OR IGNORE INTO sync_dead_letter (idempotency_key, epoch, first_seq, last_seq, count, reason,"
            " created_at, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (batch.key, batch.epoch, batch.first_seq, batch.last_seq, len(batch.rows),
             reason[: const.MESSAGE_MAX_CHARS], self._clock(), body),
        )
        added = cursor.rowcount == 1
        await cursor.close()
        if added:
            await self._evict_beyond_cap()
        return added

    async def _evict_beyond_cap(self) -> None:
        cursor = await self._db.execute(
            "DELETE FROM sync_dead_letter WHERE id NOT IN"
            " (SELECT id FROM sync_dead_letter ORDER BY id DESC LIMIT ?)", (self._max_batches,))
        evicted = cursor.rowcount
        await cursor.close()
        if evicted > 0:
            await self._db.execute(
                "INSERT INTO sync_counter (name, value) VALUES ('dead_letters_evicted', ?)"
                " ON CONFLICT(name) DO UPDATE SET value = value + excluded.value", (evicted,))

    async def summary(self) -> DeadLetterSummary:
        async with self._db.execute("SELECT COUNT(*), COALESCE(SUM(count), 0) FROM sync_dead_letter") as cursor:
            row = await cursor.fetchone()
        async with self._db.execute("SELECT value FROM sync_counter WHERE name = 'dead_letters_evicted'") as cursor:
            evicted = await cursor.fetchone()
        assert row is not None
        return DeadLetterSummary(int(row[0]), int(row[1]), int(evicted[0]) if evicted else 0)

    async def list(self, limit: int = 20) -> list[DeadLetter]:
        async with self._db.execute(
            "SELECT id, idempotency_key, epoch, first_seq, last_seq, count, reason, created_at"
            " FROM sync_dead_letter ORDER BY id DESC LIMIT ?", (limit,)
        ) as cursor:
            rows = await cursor.fetchall()
        return [DeadLetter(*row) for row in rows]

    async def body(self, key: str) -> bytes | None:
        """The set-aside rows as gzip NDJSON (for export and replay by hand)."""
        async with self._db.execute("SELECT body FROM sync_dead_letter WHERE idempotency_key = ?", (key,)) as cursor:
            row = await cursor.fetchone()
        return bytes(row[0]) if row else None
