"""Schema migrations: tracked by user_version, idempotent, atomic, refusing a newer schema."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import aiosqlite
import pytest

from gateway.statedb.connection import close_state_db, open_state_db, state_db
from gateway.statedb.migrate import SchemaTooNewError, apply_migrations, read_user_version
from gateway.statedb.schema import MIGRATIONS, SCHEMA_VERSION

STEP_1 = ("CREATE TABLE a (x INTEGER)",)
STEP_2 = ("CREATE TABLE b (y INTEGER)", "INSERT INTO b (y) VALUES (2)")
BROKEN_STEP = ("CREATE TABLE c (z INTEGER)", "THIS IS NOT SQL")


async def plain_connection(path: Path) -> aiosqlite.Connection:
    return await aiosqlite.connect(path, isolation_level=None)


async def tables(conn: aiosqlite.Connection) -> set[str]:
    rows = await conn.execute_fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {r[0] for r in rows}


async def test_version_matches_migration_count(conn: aiosqlite.Connection) -> None:
    assert SCHEMA_VERSION == len(MIGRATIONS) >= 1
    assert await read_user_version(conn) == SCHEMA_VERSION


async def test_applying_again_is_a_no_op(conn: aiosqlite.Connection) -> None:
    assert await apply_migrations(conn) == 0
    assert await apply_migrations(conn) == 0
    assert await read_user_version(conn) == SCHEMA_VERSION


async def test_reopening_many_times_keeps_one_schema(db_path: Path) -> None:
    for _ in range(3):
        async with state_db(db_path) as conn:
            rows = list(await conn.execute_fetchall("SELECT COUNT(*) FROM state_counter"))
            assert rows[0][0] == 1


async def test_steps_apply_in_order_and_only_once(tmp_path: Path) -> None:
    conn = await plain_connection(tmp_path / "m.db")
    try:
        assert await apply_migrations(conn, [STEP_1]) == 1
        assert await apply_migrations(conn, [STEP_1, STEP_2]) == 1
        assert await apply_migrations(conn, [STEP_1, STEP_2]) == 0
        assert await read_user_version(conn) == 2
        assert {"a", "b"} <= await tables(conn)
        rows = list(await conn.execute_fetchall("SELECT COUNT(*) FROM b"))
        assert rows[0][0] == 1
    finally:
        await conn.close()


async def test_failing_step_rolls_back_entirely(tmp_path: Path) -> None:
    conn = await plain_connection(tmp_path / "m.db")
    try:
        await apply_migrations(conn, [STEP_1])
        with pytest.raises(sqlite3.OperationalError):
            await apply_migrations(conn, [STEP_1, STEP_2, BROKEN_STEP])
        assert await read_user_version(conn) == 1
        assert "b" not in await tables(conn) and "c" not in await tables(conn)
        assert not conn.in_transaction
    finally:
        await conn.close()


async def test_newer_schema_is_refused(db_path: Path) -> None:
    async with state_db(db_path) as conn:
        await conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    before = threading.active_count()
    with pytest.raises(SchemaTooNewError):
        await open_state_db(db_path)
    assert threading.active_count() == before


async def test_two_connections_migrating_at_once(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    first, second = await plain_connection(path), await plain_connection(path)
    try:
        for c in (first, second):
            await c.execute("PRAGMA busy_timeout = 5000")
        applied = await asyncio.gather(
            apply_migrations(first, [STEP_1, STEP_2]), apply_migrations(second, [STEP_1, STEP_2])
        )
        assert sorted(applied) == [0, 2]
        rows = list(await first.execute_fetchall("SELECT COUNT(*) FROM b"))
        assert rows[0][0] == 1
    finally:
        await close_state_db(first)
        await close_state_db(second)
