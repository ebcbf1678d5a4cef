"""Concurrent appends (server and CLI on separate connections, coroutines sharing one, separate
processes) keep one linear chain."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import aiosqlite

from gateway.audit.chain import GENESIS_HASH
from gateway.audit.model import StoredEntry
from gateway.audit.store import AuditLog
from gateway.statedb.connection import state_db
from gateway.statedb.tokens import TokenRegistry

from .conftest import FakeClock, event

APPENDS_PER_WRITER = 50
PROCESS_TIMEOUT_S = 60.0
MAIN_APPEND_PAUSE_S = 0.002
REPO_ROOT = Path(__file__).resolve().parents[3]


def assert_linear(entries: list[StoredEntry], count: int) -> None:
    oldest_first = sorted(entries, key=lambda e: e.id)
    assert [e.id for e in oldest_first] == list(range(1, count + 1))
    prev = GENESIS_HASH
    for entry in oldest_first:
        assert entry.prev_hash == prev
        prev = entry.hash


async def append_many(log: AuditLog, writer: str, count: int) -> list[StoredEntry]:
    appended = []
    for n in range(count):
        appended.append(await log.append(event(n, actor=writer)))
        await asyncio.sleep(0)
    return appended


async def test_two_connections_interleaved(db_path: Path) -> None:
    async with state_db(db_path) as server_conn, state_db(db_path) as cli_conn:
        server = AuditLog(server_conn, FakeClock())
        cli = AuditLog(cli_conn, FakeClock())
        from_server, from_cli = await asyncio.gather(
            append_many(server, "server", APPENDS_PER_WRITER), append_many(cli, "cli:root", APPENDS_PER_WRITER)
        )
        total = 2 * APPENDS_PER_WRITER
        assert_linear(from_server + from_cli, total)
        # How the two interleave is up to SQLite's lock (its busy handler polls, so one writer may run
        # ahead of the other); what matters is one linear chain holding every entry.
        assert await server.count() == total
        result = await cli.verify()
        assert result.ok and result.checked == total
        listed = await server.list(limit=total)
        assert sorted(listed, key=lambda e: e.id) == sorted(from_server + from_cli, key=lambda e: e.id)


async def test_coroutines_sharing_one_connection(conn: aiosqlite.Connection) -> None:
    log = AuditLog(conn, FakeClock())
    registry = TokenRegistry(conn, time.time)
    revokes = [registry.revoke(f"jti-{n:04d}") for n in range(20)]
    appends = [log.append(event(n)) for n in range(100)]
    results = await asyncio.gather(*appends, *revokes)
    entries = [r for r in results if isinstance(r, StoredEntry)]
    assert_linear(entries, 100)
    assert len(await registry.revoked_jtis()) == 20
    assert (await log.verify()).ok


APPENDER = """
import asyncio, sys, time
from pathlib import Path
from gateway.audit.model import AuditEvent
from gateway.audit.store import AuditLog
from gateway.statedb.connection import state_db

async def main(path, name, count):
    async with state_db(Path(path)) as conn:
        log = AuditLog(conn, time.time)
        for n in range(count):
            await log.append(AuditEvent(action="test.append", outcome="ok", actor=name, jti=None,
                                        client="local", target=str(n), details={"n": n}))

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


async def test_separate_processes_appending(db_path: Path) -> None:
    async with state_db(db_path):
        pass  # created and migrated before the race, so every writer appends from the start
    processes = [
        subprocess.Popen([sys.executable, "-c", APPENDER, str(db_path), f"proc-{i}", str(APPENDS_PER_WRITER)],
                         cwd=REPO_ROOT)
        for i in range(3)
    ]
    async with state_db(db_path) as conn:
        log = AuditLog(conn, FakeClock())
        deadline = time.monotonic() + PROCESS_TIMEOUT_S
        mine: list[StoredEntry] = []
        while len(mine) < APPENDS_PER_WRITER or any(p.poll() is None for p in processes):
            assert time.monotonic() < deadline, "appending processes did not finish"
            mine.append(await log.append(event(len(mine), actor="main")))  # keeps racing the others
            await asyncio.sleep(MAIN_APPEND_PAUSE_S)
        assert [p.returncode for p in processes] == [0, 0, 0]
        total = 3 * APPENDS_PER_WRITER + len(mine)
        assert await log.count() == total
        everything = await log.list(limit=total)
        assert_linear(everything, total)
        assert {e.id for e in mine} <= {e.id for e in everything}
        assert {e.actor for e in everything} == {"main", "proc-0", "proc-1", "proc-2"}
        result = await log.verify()
        assert result.ok and result.checked == total
