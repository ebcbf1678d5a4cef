"""open_state_db: file and directory modes, pragmas, reopening, concurrent opens, no thread left behind."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import subprocess
import sys
import threading
from pathlib import Path

import aiosqlite
import pytest

from gateway.statedb.connection import close_state_db, open_state_db, state_db
from gateway.statedb.const import BUSY_TIMEOUT_MS
from gateway.statedb.schema import SCHEMA_VERSION

REPO_ROOT = Path(__file__).resolve().parents[3]


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def scalar(conn: aiosqlite.Connection, sql: str) -> object:
    rows = list(await conn.execute_fetchall(sql))
    return rows[0][0]


async def test_new_directory_and_file_are_private(db_path: Path) -> None:
    old_umask = os.umask(0o022)
    try:
        async with state_db(db_path) as conn:
            await conn.execute("INSERT INTO revoked_jti (jti, revoked_at) VALUES ('x', 1.0)")
            assert mode_of(db_path.parent) == 0o700
            assert mode_of(db_path) == 0o600
            wal = db_path.with_name(db_path.name + "-wal")
            assert wal.exists()
            assert mode_of(wal) == 0o600
    finally:
        os.umask(old_umask)


async def test_existing_directory_is_left_alone(tmp_path: Path) -> None:
    directory = tmp_path / "shared"
    directory.mkdir(mode=0o755)
    os.chmod(directory, 0o755)
    async with state_db(directory / "state.db"):
        pass
    assert mode_of(directory) == 0o755
    assert mode_of(directory / "state.db") == 0o600


async def test_pragmas(conn: aiosqlite.Connection) -> None:
    assert await scalar(conn, "PRAGMA journal_mode") == "wal"
    assert await scalar(conn, "PRAGMA synchronous") == 2  # FULL
    assert await scalar(conn, "PRAGMA busy_timeout") == BUSY_TIMEOUT_MS
    assert await scalar(conn, "PRAGMA foreign_keys") == 1
    assert await scalar(conn, "PRAGMA user_version") == SCHEMA_VERSION
    assert conn.isolation_level is None


async def test_schema_objects_exist(conn: aiosqlite.Connection) -> None:
    rows = await conn.execute_fetchall("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
    names = {name for _type, name in rows}
    assert {"issued_token", "revoked_jti", "state_counter", "audit_log"} <= names
    assert {"audit_log_no_update", "audit_log_no_delete"} <= names


async def test_reopen_keeps_data_and_schema(db_path: Path) -> None:
    async with state_db(db_path) as conn:
        await conn.execute("INSERT INTO revoked_jti (jti, revoked_at) VALUES ('kept', 1.0)")
        schema_before = list(await conn.execute_fetchall("SELECT sql FROM sqlite_master ORDER BY name"))
    async with state_db(db_path) as conn:
        rows = list(await conn.execute_fetchall("SELECT jti FROM revoked_jti"))
        schema_after = list(await conn.execute_fetchall("SELECT sql FROM sqlite_master ORDER BY name"))
    assert [r[0] for r in rows] == ["kept"]
    assert [tuple(r) for r in schema_after] == [tuple(r) for r in schema_before]


async def test_concurrent_opens_of_a_new_file(db_path: Path) -> None:
    connections = await asyncio.gather(*(open_state_db(db_path) for _ in range(4)))
    try:
        for conn in connections:
            assert await scalar(conn, "PRAGMA user_version") == SCHEMA_VERSION
            assert await scalar(conn, "PRAGMA journal_mode") == "wal"
    finally:
        for conn in connections:
            await close_state_db(conn)


OPEN_AND_WRITE = """
import asyncio, sys
from pathlib import Path
from gateway.statedb.connection import state_db

async def main(path, name):
    async with state_db(Path(path)) as conn:
        await conn.execute("INSERT INTO revoked_jti (jti, revoked_at) VALUES (?, 1.0)", (name,))

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def test_concurrent_opens_from_separate_processes(db_path: Path) -> None:
    processes = [
        subprocess.Popen([sys.executable, "-c", OPEN_AND_WRITE, str(db_path), f"p{i}"], cwd=REPO_ROOT)
        for i in range(4)
    ]
    assert [p.wait(timeout=60) for p in processes] == [0, 0, 0, 0]
    with sqlite3.connect(db_path) as plain:
        names = {row[0] for row in plain.execute("SELECT jti FROM revoked_jti")}
        version = plain.execute("PRAGMA user_version").fetchone()[0]
    plain.close()
    assert names == {"p0", "p1", "p2", "p3"}
    assert version == SCHEMA_VERSION


async def test_no_thread_left_after_close(db_path: Path) -> None:
    before = threading.active_count()
    for _ in range(3):
        conn = await open_state_db(db_path)
        assert threading.active_count() == before + 1
        await close_state_db(conn)
        assert threading.active_count() == before
    async with state_db(db_path):
        assert threading.active_count() == before + 1
    assert threading.active_count() == before


async def test_context_manager_closes_on_error(db_path: Path) -> None:
    before = threading.active_count()
    with pytest.raises(RuntimeError, match="boom"):
        async with state_db(db_path) as conn:
            raise RuntimeError("boom")
    assert threading.active_count() == before
    with pytest.raises(ValueError):
        await conn.execute("SELECT 1")  # closed


async def test_close_is_idempotent(db_path: Path) -> None:
    before = threading.active_count()
    conn = await open_state_db(db_path)
    await close_state_db(conn)
    await close_state_db(conn)
    assert threading.active_count() == before


async def test_failed_open_leaves_no_thread(tmp_path: Path) -> None:
    not_a_db = tmp_path / "state.db"
    not_a_db.write_bytes(b"this is not an sqlite database, just some bytes" * 100)
    before = threading.active_count()
    with pytest.raises(sqlite3.DatabaseError):
        await open_state_db(not_a_db)
    assert threading.active_count() == before
