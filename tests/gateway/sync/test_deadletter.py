"""The dead-letter table in the state database: rows kept, counted, idempotent by key, capped."""

from __future__ import annotations

from pathlib import Path

from gateway.statedb.connection import state_db
from gateway.sync.batch import Batch, SyncRow, decode_batch
from gateway.sync.deadletter import DeadLetterStore


def batch(first: int, count: int = 3) -> Batch:
    return Batch("gw-01", "00ab", [SyncRow(seq, 1.0 * seq, "extruder", "zone0.temp_c", 200.0 + seq)
                                   for seq in range(first, first + count)])


async def test_set_aside_once_per_key_with_rows_and_reason(tmp_path: Path) -> None:
    async with state_db(tmp_path / "state.db") as db:
        store = DeadLetterStore(db, lambda: 1234.5)
        await store.ensure_schema()
        await store.ensure_schema()  # idempotent
        assert await store.put(batch(10), "HTTP 400") is True
        assert await store.put(batch(10), "HTTP 400 again") is False  # re-sent after a crash: recorded once
        summary = await store.summary()
        assert (summary.batches, summary.samples, summary.evicted_batches) == (1, 3, 0)
        [dead] = await store.list()
        assert (dead.key, dead.first_seq, dead.last_seq, dead.count, dead.reason, dead.created_at) == \
            ("gw-01:00ab:10-12", 10, 12, 3, "HTTP 400", 1234.5)
        body = await store.body(dead.key)
        assert body is not None
        rows = decode_batch(body, content_type="application/x-ndjson", content_encoding="gzip").items
        assert [row["value"] for row in rows] == [210.0, 211.0, 212.0]
        assert await store.body("gw-01:00ab:1-2") is None

    async with state_db(tmp_path / "state.db") as db:  # survives a restart
        assert (await DeadLetterStore(db, lambda: 0.0).summary()).batches == 1


async def test_cap_evicts_the_oldest_and_counts_them(tmp_path: Path) -> None:
    async with state_db(tmp_path / "state.db") as db:
        store = DeadLetterStore(db, lambda: 1.0, max_batches=2)
        await store.ensure_schema()
        for first in (1, 11, 21, 31):
            await store.put(batch(first), "HTTP 422")
        assert [d.first_seq for d in await store.list()] == [31, 21]
        summary = await store.summary()
        assert (summary.batches, summary.samples, summary.evicted_batches) == (2, 6, 2)
