"""Open and close the gateway's state database (``state.db``).

The long-running server and short CLI commands open the same file, possibly at the same time, so:

* WAL journal (readers never block the writer), ``busy_timeout`` so a writer waits for the other
  process's write lock instead of failing, ``synchronous=FULL`` (a small, security-relevant file:
  a committed revocation or audit entry survives power loss).
* Autocommit mode (``isolation_level=None``): every write in this package is either one SQL statement
  (SQLite runs it as its own transaction and takes the write lock when it starts, as
  ``BEGIN IMMEDIATE`` does) or an explicit ``BEGIN IMMEDIATE ... COMMIT`` (migrations). Single-statement
  writes also keep one connection safe to share between coroutines: no transaction spans an ``await``.
* The directory (0700) and file (0600) are created private when they do not exist; existing ones are
  left as they are (the service's state directory is made private by its own setup).

Always close through ``close_state_db`` (or use ``state_db``): besides closing, it joins aiosqlite's
worker thread, so no thread outlives the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite

from gateway.statedb.const import (
    BUSY_TIMEOUT_MS,
    STATE_DB_FILE_MODE,
    STATE_DIR_MODE,
    THREAD_JOIN_TIMEOUT_S,
    WAL_SWITCH_RETRY_INTERVAL_S,
)
from gateway.statedb.migrate import apply_migrations

PRAGMAS: tuple[str, ...] = (
    f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}",  # first: the statements below may need to wait
    "PRAGMA synchronous = FULL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA trusted_schema = OFF",
)
"""Per-connection settings applied on every open (the journal mode is set separately and checked)."""


def ensure_private_parent(path: Path) -> None:
    """Create ``path``'s directory with mode 0700 if it does not exist (parents as needed)."""
    directory = path.parent
    if directory.is_dir():
        return
    directory.parent.mkdir(parents=True, exist_ok=True)
    try:
        directory.mkdir(mode=STATE_DIR_MODE)
    except FileExistsError:  # another process created it first
        return
    os.chmod(directory, STATE_DIR_MODE)  # mkdir's mode is filtered by the umask; make it exact


def ensure_private_file(path: Path) -> None:
    """Create an empty database file with mode 0600 if it does not exist (SQLite reads it as empty)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, STATE_DB_FILE_MODE)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, STATE_DB_FILE_MODE)
    finally:
        os.close(fd)


async def open_state_db(path: Path) -> aiosqlite.Connection:
    """Open ``path`` (creating it private if new), set the pragmas and bring the schema up to date.

    Close the result with ``close_state_db``. Raises ``SchemaTooNewError`` for a database written by a
    newer gateway and ``sqlite3.OperationalError`` if the file cannot be opened or stays locked.
    """
    path = Path(path)
    ensure_private_parent(path)
    ensure_private_file(path)
    pending = aiosqlite.connect(path, isolation_level=None)
    worker = _worker_thread(pending)
    try:
        conn = await pending
    except BaseException:
        _join(worker)
        raise
    try:
        for pragma in PRAGMAS:
            await conn.execute(pragma)
        await _enable_wal(conn)
        await apply_migrations(conn)
    except BaseException:
        await close_state_db(conn)
        raise
    return conn


async def close_state_db(conn: aiosqlite.Connection) -> None:
    """Close the connection and wait for aiosqlite's worker thread to exit. Idempotent."""
    worker = _worker_thread(conn)
    try:
        await conn.close()
    finally:
        _join(worker)


@contextlib.asynccontextmanager
async def state_db(path: Path) -> AsyncIterator[aiosqlite.Connection]:
    """``async with state_db(path) as conn:`` — opened as by ``open_state_db``, always closed."""
    conn = await open_state_db(path)
    try:
        yield conn
    finally:
        await close_state_db(conn)


async def _enable_wal(conn: aiosqlite.Connection) -> None:
    """Switch to WAL (persistent in the file) unless it already is.

    The switch needs an exclusive lock, and SQLite reports ``database is locked`` at once, without its
    busy handler, while another process is opening the same new file: retry until ``BUSY_TIMEOUT_MS``.
    """
    if await _journal_mode(conn, "PRAGMA journal_mode") == "wal":
        return
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            mode = await _journal_mode(conn, "PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc) or time.monotonic() >= deadline:
                raise
            await asyncio.sleep(WAL_SWITCH_RETRY_INTERVAL_S)
            continue
        if mode != "wal":
            raise RuntimeError(f"state database could not be switched to WAL (journal_mode={mode!r})")
        return


async def _journal_mode(conn: aiosqlite.Connection, pragma: str) -> str:
    async with conn.execute(pragma) as cursor:
        row = await cursor.fetchone()
    return str(row[0]).lower() if row is not None else ""


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)


def _worker_thread(conn: aiosqlite.Connection) -> threading.Thread | None:
    # aiosqlite keeps its worker in a private attribute and close() returns before the thread has
    # exited; reading it defensively means a future aiosqlite that renames it only loses the join.
    worker = getattr(conn, "_thread", None)
    return worker if isinstance(worker, threading.Thread) else None


def _join(worker: threading.Thread | None) -> None:
    if worker is None or worker is threading.current_thread() or not worker.is_alive():
        return
    worker.join(THREAD_JOIN_TIMEOUT_S)  # the thread has queued nothing after the close: returns at once
