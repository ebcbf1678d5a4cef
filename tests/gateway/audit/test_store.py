"""AuditLog on a real database file: append, list, count, verify, append-only triggers, reopen."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import aiosqlite
import pytest

from gateway.audit import store as audit_store
from gateway.audit.chain import GENESIS_HASH, entry_hash, hashed_fields
from gateway.audit.const import AUDIT_LIST_MAX_LIMIT
from gateway.audit.store import AuditLog
from gateway.statedb.connection import state_db

from .conftest import CLOCK_START_S, FakeClock, event


async def test_append_links_entries(log: AuditLog) -> None:
    first = await log.append(event(1))
    second = await log.append(event(2))
    assert (first.id, second.id) == (1, 2)
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash
    assert first.hash == entry_hash(GENESIS_HASH, hashed_fields(first))
    assert second.hash == entry_hash(first.hash, hashed_fields(second))
    assert first.ts == CLOCK_START_S
    assert dict(first.details) == {"method": "POST", "path": "/api/v1/printers/p1/commands", "status": 202, "n": 1}


async def test_appended_entry_matches_stored_entry(log: AuditLog) -> None:
    appended = await log.append(event(7, actor=None, jti=None, details={"temp_c": 215.5, "name": "Düse"}))
    [listed] = await log.list()
    assert listed == appended


async def test_list_newest_first_with_paging(log: AuditLog) -> None:
    for n in range(1, 8):
        await log.append(event(n))
    assert [e.id for e in await log.list()] == [7, 6, 5, 4, 3, 2, 1]
    assert [e.id for e in await log.list(limit=3)] == [7, 6, 5]
    assert [e.id for e in await log.list(before_id=5, limit=3)] == [4, 3, 2]
    assert [e.id for e in await log.list(before_id=2)] == [1]
    assert await log.list(before_id=1) == []


@pytest.mark.parametrize("limit", [0, -1, AUDIT_LIST_MAX_LIMIT + 1])
async def test_list_limit_bounds(log: AuditLog, limit: int) -> None:
    with pytest.raises(ValueError):
        await log.list(limit=limit)


async def test_count_and_verify(log: AuditLog) -> None:
    assert await log.count() == 0
    empty = await log.verify()
    assert empty.ok and empty.checked == 0
    for n in range(5):
        await log.append(event(n))
    assert await log.count() == 5
    result = await log.verify()
    assert result.ok and result.checked == 5 and result.first_broken_id is None
    assert result.head_hash == (await log.list(limit=1))[0].hash


async def test_verify_streams_in_chunks(log: AuditLog, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit_store, "AUDIT_VERIFY_CHUNK_ROWS", 4)
    for n in range(13):
        await log.append(event(n))
    result = await log.verify()
    assert result.ok and result.checked == 13


async def test_integer_clock_readings_still_verify(conn: aiosqlite.Connection) -> None:
    log = AuditLog(conn, lambda: 1_700_000_000)  # type: ignore[arg-type,return-value]
    entry = await log.append(event())
    assert isinstance(entry.ts, float)
    assert (await log.verify()).ok


async def test_refused_event_is_not_stored(log: AuditLog) -> None:
    with pytest.raises(ValueError):
        await log.append(event(details={"access_code": "12345678"}))
    with pytest.raises(ValueError):
        await log.append(event(details={"v": float("nan")}))
    assert await log.count() == 0


async def test_large_details_are_truncated_and_verify(log: AuditLog) -> None:
    entry = await log.append(event(details={"blob": "x" * 10_000}))
    assert entry.details["_truncated"] is True
    assert (await log.verify()).ok


async def test_update_and_delete_are_blocked(conn: aiosqlite.Connection, log: AuditLog) -> None:
    await log.append(event())
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        await conn.execute("UPDATE audit_log SET outcome = 'refused' WHERE id = 1")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        await conn.execute("DELETE FROM audit_log WHERE id = 1")
    with pytest.raises(aiosqlite.IntegrityError):  # aiosqlite re-exports the same class
        await conn.execute("DELETE FROM audit_log")
    assert await log.count() == 1
    assert (await log.verify()).ok


def test_update_and_delete_blocked_for_plain_sqlite3(db_path: Path) -> None:
    async def setup() -> None:
        async with state_db(db_path) as conn:
            await AuditLog(conn, FakeClock()).append(event())

    asyncio.run(setup())
    plain = sqlite3.connect(db_path)
    try:
        with pytest.raises(sqlite3.IntegrityError):
            plain.execute("UPDATE audit_log SET hash = 'x'")
        with pytest.raises(sqlite3.IntegrityError):
            plain.execute("DELETE FROM audit_log")
    finally:
        plain.close()


async def test_chain_continues_after_reopen(db_path: Path) -> None:
    clock = FakeClock()
    async with state_db(db_path) as conn:
        log = AuditLog(conn, clock)
        for n in range(3):
            await log.append(event(n))
    async with state_db(db_path) as conn:
        log = AuditLog(conn, clock)
        fourth = await log.append(event(3))
        assert fourth.id == 4
        assert fourth.prev_hash == (await log.list(before_id=4, limit=1))[0].hash
        result = await log.verify()
        assert result.ok and result.checked == 4
