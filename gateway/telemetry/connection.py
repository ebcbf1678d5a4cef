"""Opening the buffer file: the writer (creates the schema, sets budget and durability) and the reader."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

from gateway.statedb.connection import close_state_db, ensure_private_file, ensure_private_parent
from gateway.telemetry import schema
from gateway.telemetry.budget import budget_pragmas
from gateway.telemetry.config import Durability
from gateway.telemetry.const import EPOCH_HEX_CHARS, PAGE_SIZE_BYTES

BUSY_TIMEOUT_MS = 5_000
SYNCHRONOUS = {"full": "FULL", "normal": "NORMAL"}


@dataclass
class OpenedState:
    """What the file says when it is opened."""

    epoch: str
    last_seq: int
    acked_seq: int
    dropped: int
    rejected: int
    rows: int
    gaps: int
    series: dict[int, tuple[str, str]]
    created: bool


def new_epoch() -> str:
    return secrets.token_hex(EPOCH_HEX_CHARS // 2)


async def connect(path: Path) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(path, isolation_level=None)
    await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


async def open_writer(path: Path, *, durability: Durability, max_bytes: int, batch_size: int,
                      now_ms: int) -> tuple[aiosqlite.Connection, OpenedState]:
    """Open (creating private if new) and prepare the file; the caller closes with ``close_state_db``."""
    ensure_private_parent(path)
    ensure_private_file(path)
    conn = await connect(path)
    try:
        await conn.execute(f"PRAGMA page_size = {PAGE_SIZE_BYTES}")  # only takes effect on a new file
        async with conn.execute("PRAGMA journal_mode = WAL") as cursor:
            mode = (await cursor.fetchone() or ("",))[0]
        if str(mode).lower() != "wal":
            raise RuntimeError(f"telemetry buffer could not be switched to WAL (journal_mode={mode!r})")
        await conn.execute(f"PRAGMA synchronous = {SYNCHRONOUS[durability]}")
        await conn.execute("PRAGMA trusted_schema = OFF")
        for statement in budget_pragmas(max_bytes, batch_size).statements():
            await conn.execute(statement)
        state = await _prepare(conn, now_ms)
    except BaseException:
        await close_state_db(conn)
        raise
    return conn, state


async def _prepare(conn: aiosqlite.Connection, now_ms: int) -> OpenedState:
    await conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in schema.CREATE_STATEMENTS:
            await conn.execute(statement)
        meta = dict(await conn.execute_fetchall(schema.SELECT_META))
        created = schema.META_EPOCH not in meta
        if created:
            meta = {schema.META_EPOCH: new_epoch(), schema.META_LAST_SEQ: 0, schema.META_ACKED_SEQ: 0,
                    schema.META_DROPPED: 0, schema.META_REJECTED: 0, schema.META_CREATED_MS: now_ms}
            await conn.executemany(schema.SET_META, list(meta.items()))
        max_sample, max_gap = (await conn.execute_fetchall(schema.MAX_SEQS))[0]
        acked = int(meta.get(schema.META_ACKED_SEQ, 0))
        # Anything at or below the acked cursor is gone for the client; finish an interrupted delete.
        await conn.execute(schema.DELETE_SAMPLES_THROUGH, (acked,))
        await conn.execute(schema.DELETE_GAPS_THROUGH, (acked,))
        rows = (await conn.execute_fetchall(schema.COUNT_SAMPLES))[0][0]
        gaps = (await conn.execute_fetchall(schema.COUNT_GAPS))[0][0]
        series = {int(i): (str(s), str(m)) for i, s, m in await conn.execute_fetchall(schema.SELECT_SERIES)}
        await conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            await conn.execute("ROLLBACK")
        raise
    last_seq = max(int(meta.get(schema.META_LAST_SEQ, 0)), int(max_sample or 0), int(max_gap or 0), acked)
    return OpenedState(
        epoch=str(meta[schema.META_EPOCH]), last_seq=last_seq, acked_seq=acked,
        dropped=int(meta.get(schema.META_DROPPED, 0)), rejected=int(meta.get(schema.META_REJECTED, 0)),
        rows=int(rows), gaps=int(gaps), series=series, created=created,
    )


async def open_reader(path: Path) -> aiosqlite.Connection:
    conn = await connect(path)
    try:
        await conn.execute("PRAGMA query_only = ON")
    except BaseException:
        await close_state_db(conn)
        raise
    return conn


def file_bytes(path: Path) -> int:
    """Size on disk of the database file plus its WAL (what the budget bounds)."""
    total = 0
    for candidate in (path, path.with_name(path.name + "-wal")):
        try:
            total += os.stat(candidate).st_size
        except FileNotFoundError:
            pass
    return total
