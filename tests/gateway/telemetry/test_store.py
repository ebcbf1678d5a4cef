"""The store on a real file: batches, reading oldest first, acks, sequences across reopen, NaN values."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import pytest

from gateway.telemetry.cursor import Cursor, CursorError
from gateway.telemetry.sink import Sample, TelemetrySink
from gateway.telemetry.store import TelemetryStore
from tests.gateway.telemetry.tel_helpers import BASE_TS, samples, settings


async def test_put_flush_read_in_order(store: TelemetryStore) -> None:
    sink: TelemetrySink = store
    for sample in samples(1200):
        sink.put(sample)
    sink.put(Sample(BASE_TS + 5, "printer:X1", "nozzle_c", 215.5))
    assert store.committed_seq == 0  # nothing is written by put itself
    assert await store.flush()
    assert store.committed_seq == 1201
    page = await store.read_after(None, 1000)
    assert [item["seq"] for item in page.items] == list(range(1, 1001)) and page.more
    assert page.items[0] == {"seq": 1, "ts": BASE_TS, "source": "extruder", "metric": "zone0.temp_c", "value": 0.0}
    rest = await store.read_after(page.next, 1000)
    assert [item["seq"] for item in rest.items] == list(range(1001, 1202)) and not rest.more
    assert rest.items[-1]["source"] == "printer:X1" and rest.items[-1]["value"] == 215.5
    empty = await store.read_after(rest.next, 10)
    assert empty.items == [] and empty.next == rest.next and not empty.more


async def test_flusher_writes_on_its_own(store: TelemetryStore) -> None:
    import asyncio

    runner = asyncio.create_task(store.run())
    try:
        for sample in samples(10):
            store.put(sample)
        deadline = asyncio.get_running_loop().time() + 5
        while store.committed_seq < 10 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        assert store.committed_seq == 10
        assert store.counters.flushes >= 1 and store.counters.last_flush_at is not None
    finally:
        runner.cancel()


async def test_ack_deletes_and_replay_is_harmless(store: TelemetryStore) -> None:
    for sample in samples(3000):
        store.put(sample)
    await store.flush()
    page = await store.read_after(None, 1000)
    acked, deleted, new = await store.ack(page.next)
    assert (acked, deleted, new) == (page.next, 1000, True)
    assert (await store.read_after(None, 1)).items[0]["seq"] == 1001  # default start: the acked cursor
    assert await store.ack(page.next) == (page.next, 0, False)  # replayed
    assert await store.ack(Cursor(store.epoch, 5)) == (page.next, 0, False)  # older
    assert store.stats()["backlog_samples"] == 2000
    with pytest.raises(CursorError) as stale:
        await store.ack(Cursor("0" * 16, 2000))
    assert stale.value.kind == "stale_epoch" and stale.value.current_epoch == store.epoch
    with pytest.raises(CursorError) as future:
        await store.ack(Cursor(store.epoch, 3001))
    assert future.value.kind == "future"
    with pytest.raises(CursorError):
        await store.read_after(Cursor(store.epoch, 9999), 10)


async def test_big_flush_and_ack_go_in_batch_sized_transactions(tmp_path: Path) -> None:
    store = await TelemetryStore.open(tmp_path / "t.db", settings(batch_size=20_000, max_pending=200_000))
    try:
        for sample in samples(120_000):
            store.put(sample)
        await store.flush()
        assert store.counters.flushes == 6 and store.committed_seq == 120_000
        _, deleted, _ = await store.ack(Cursor(store.epoch, 120_000))
        assert deleted == 120_000 and store.stats()["backlog_samples"] == 0
    finally:
        await store.close()


async def test_sequences_continue_after_reopen_even_when_all_acked(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    store = await TelemetryStore.open(path, settings())
    epoch = store.epoch
    for sample in samples(100):
        store.put(sample)
    await store.close()  # final flush
    store = await TelemetryStore.open(path, settings())
    try:
        assert store.epoch == epoch and store.committed_seq == 100
        await store.ack(Cursor(epoch, 100))
    finally:
        await store.close()
    store = await TelemetryStore.open(path, settings())
    try:
        store.put(samples(1)[0])
        await store.flush()
        assert [i["seq"] for i in (await store.read_after(None, 10)).items] == [101]
        assert store.acked == Cursor(epoch, 100)
    finally:
        await store.close()


async def test_nan_and_inf_values(store: TelemetryStore) -> None:
    store.put(Sample(BASE_TS, "extruder", "zone0.temp_c", math.nan))
    store.put(Sample(BASE_TS, "extruder", "zone0.temp_c", math.inf))
    await store.flush()
    store.put(Sample(BASE_TS, "extruder", "zone0.temp_c", -math.inf))
    await store.flush()
    values = [i["value"] for i in (await store.read_after(None, 10)).items]
    assert values == [None, None, None]  # kept as samples; JSON has no NaN or infinity


async def test_compact_rows(tmp_path: Path) -> None:
    """Bytes on disk per sample stay well under 40 (integer ms, interned series, seq as the rowid)."""
    path = tmp_path / "t.db"
    store = await TelemetryStore.open(path, settings(batch_size=20_000, max_pending=200_000))
    for i, sample in enumerate(samples(100_000)):
        store.put(Sample(sample.ts, "extruder", f"zone{i % 4}.temp_c", 180.0 + (i % 997) / 10))
    await store.close()
    with sqlite3.connect(path) as conn:
        pages = conn.execute("SELECT COUNT(*) FROM dbstat WHERE name = 'samples'").fetchone()[0] \
            if _has_dbstat(conn) else path.stat().st_size / 4096
    assert pages * 4096 / 100_000 <= 40


def _has_dbstat(conn: sqlite3.Connection) -> bool:
    try:
        conn.execute("SELECT 1 FROM dbstat LIMIT 1")
    except sqlite3.Error:
        return False
    return True


async def test_json_rendering_matches_the_items(tmp_path: Path) -> None:
    """The pull API's SQLite-rendered JSON is the same stream as ``read_after``, gap markers included."""
    import json

    from gateway.api.telemetry_models import TelemetryPage

    store = await TelemetryStore.open(tmp_path / "t.db", settings(max_bytes=256 * 1024))
    try:
        for offset in range(0, 30_000, 500):
            for i, sample in enumerate(samples(500, start=offset)):
                store.put(Sample(sample.ts, 'printer:"X1"\\', "nozzle_c" if i % 2 else "bed_c", sample.value))
            await store.flush()
        store.put(Sample(BASE_TS, "extruder", "zone0.temp_c", math.nan))
        store.put(Sample(BASE_TS, "extruder", "zone0.temp_c", math.inf))
        store.put(Sample(BASE_TS + 0.001, "extruder", "zone0.temp_c", -12.345678901))
        await store.flush()
        assert store.counters.dropped_samples > 0
        cursor = None
        while True:
            page = await store.read_after(cursor, 3_000)
            rendered = await store.read_after_json(cursor, 3_000)
            assert (rendered.next, rendered.more, rendered.count) == (page.next, page.more, len(page.items))
            assert json.loads(rendered.items_json) == page.items
            TelemetryPage.model_validate({"items": json.loads(rendered.items_json), "next": "x", "more": False})
            cursor = page.next
            if not page.more:
                break
        assert page.items[-1]["value"] == -12.345678901 and page.items[-2]["value"] is None
    finally:
        await store.close()


async def test_failed_write_keeps_the_batch_and_retries(store: TelemetryStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """An I/O error that is not 'full' loses nothing: the batch stays pending and the next flush writes it."""
    real = store._writer.write_batch
    failures = [sqlite3.OperationalError("disk I/O error")]

    async def flaky(*args: object) -> None:
        if failures:
            raise failures.pop()
        await real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(store._writer, "write_batch", flaky)
    for sample in samples(300):
        store.put(sample)
    assert await store.flush() is False
    stats = store.stats()
    assert stats["pending_samples"] == 300 and stats["write_errors"] == 1 and "disk I/O" in stats["last_error"]
    for sample in samples(10, start=300):
        store.put(sample)
    assert await store.flush() is True
    page = await store.read_after(None, 1000)
    assert [item["value"] for item in page.items] == [float(i) for i in range(310)]


async def test_memory_bound_while_writes_fail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = await TelemetryStore.open(tmp_path / "t.db", settings(batch_size=500, max_pending=1_000))
    try:
        async def broken(*args: object) -> None:
            raise sqlite3.OperationalError("disk I/O error")

        monkeypatch.setattr(store._writer, "write_batch", broken)
        for sample in samples(1_500):
            store.put(sample)
        assert not await store.flush()
        assert store.stats()["pending_samples"] == 1_000 and store.counters.dropped_pending == 500
    finally:
        monkeypatch.undo()
        await store.close()  # the final flush writes what was kept
    reopened = await TelemetryStore.open(tmp_path / "t.db", settings())
    try:
        assert reopened.committed_seq == 1_000
    finally:
        await reopened.close()


@pytest.mark.parametrize("durability, level", [("full", 2), ("normal", 1)])
async def test_durability_sets_synchronous(tmp_path: Path, durability: str, level: int) -> None:
    store = await TelemetryStore.open(tmp_path / "t.db", settings(durability=durability))
    try:
        async with store._writer_conn.execute("PRAGMA synchronous") as cursor:
            assert (await cursor.fetchone())[0] == level
        async with store._writer_conn.execute("PRAGMA journal_mode") as cursor:
            assert (await cursor.fetchone())[0] == "wal"
    finally:
        await store.close()
