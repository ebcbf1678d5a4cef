"""The worker's durable notes in the state database: the batch in flight and the last status snapshot.

The in-flight row names the last short batch (fewer rows than batch_size) before it is POSTed, so
after a crash it is re-sent as exactly the same rows with the same idempotency key (the receiver drops
it if it had arrived). Full batches need no note: re-read from the acked cursor they come out the same
(as long as ``batch_size`` is unchanged; after a change, one batch may be re-sent under a new key).
A note at or below the acked cursor, or of another buffer epoch, is stale and ignored. The status snapshot lets
``edge-gateway sync status`` report on the running service from another process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiosqlite

SCHEMA: tuple[str, ...] = (
    """
    CREATE TABLE IF NOT EXISTS sync_inflight (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        epoch TEXT NOT NULL,
        first_seq INTEGER NOT NULL,
        last_seq INTEGER NOT NULL,
        idempotency_key TEXT NOT NULL,
        since REAL NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS sync_status_snapshot (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        written_at REAL NOT NULL,
        status TEXT NOT NULL
    )
    """,
)


@dataclass(frozen=True)
class InFlight:
    epoch: str
    first_seq: int
    last_seq: int
    key: str


class SyncProgress:
    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    async def ensure_schema(self) -> None:
        for statement in SCHEMA:
            await self._db.execute(statement)

    async def inflight(self) -> InFlight | None:
        async with self._db.execute(
            "SELECT epoch, first_seq, last_seq, idempotency_key FROM sync_inflight WHERE id = 1"
        ) as cursor:
            row = await cursor.fetchone()
        return InFlight(str(row[0]), int(row[1]), int(row[2]), str(row[3])) if row else None

    async def set_inflight(self, inflight: InFlight, now: float) -> None:
        await self._db.execute(
            "INSERT OR REPLACE INTO sync_inflight (id, epoch, first_seq, last_seq, idempotency_key, since)"
            " VALUES (1, ?, ?, ?, ?, ?)", (inflight.epoch, inflight.first_seq, inflight.last_seq, inflight.key, now))

    async def clear_inflight(self) -> None:
        await self._db.execute("DELETE FROM sync_inflight WHERE id = 1")

    async def write_snapshot(self, status: dict[str, Any], now: float) -> None:
        await self._db.execute(
            "INSERT OR REPLACE INTO sync_status_snapshot (id, written_at, status) VALUES (1, ?, ?)",
            (now, json.dumps(status, sort_keys=True)))

    async def read_snapshot(self) -> tuple[float, dict[str, Any]] | None:
        async with self._db.execute("SELECT written_at, status FROM sync_status_snapshot WHERE id = 1") as cursor:
            row = await cursor.fetchone()
        return (float(row[0]), json.loads(row[1])) if row else None
