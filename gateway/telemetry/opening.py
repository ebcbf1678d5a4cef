"""Opening the buffer at start-up: integrity check, quarantine of a bad file, writer and reader."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

from gateway.statedb.connection import close_state_db
from gateway.telemetry.config import TelemetrySection
from gateway.telemetry.connection import OpenedState, open_reader, open_writer
from gateway.telemetry.integrity import QuarantineEvent, check_file, quarantine

log = logging.getLogger(__name__)

REASON_MAX_CHARS = 200


@dataclass
class OpenedBuffer:
    writer: aiosqlite.Connection
    reader: aiosqlite.Connection
    state: OpenedState
    quarantined: QuarantineEvent | None


async def open_buffer(path: Path, settings: TelemetrySection, clock: Callable[[], float]) -> OpenedBuffer:
    """Check the file (moving a bad one aside: a new epoch starts), then open writer and reader."""
    event: QuarantineEvent | None = None
    reason = await _in_own_thread(check_file, path)
    if reason is not None:
        event = _quarantine(path, reason, clock)
    try:
        writer, state = await _open_writer(path, settings, clock)
    except sqlite3.DatabaseError as exc:
        if event is not None or not _is_corrupt(exc):
            raise
        # damage quick_check did not see (in the WAL, say): the same treatment, once
        event = _quarantine(path, f"{type(exc).__name__}: {exc}"[:REASON_MAX_CHARS], clock)
        writer, state = await _open_writer(path, settings, clock)
    try:
        reader = await open_reader(path)
    except BaseException:
        await close_state_db(writer)
        raise
    return OpenedBuffer(writer, reader, state, event)


def _quarantine(path: Path, reason: str, clock: Callable[[], float]) -> QuarantineEvent:
    event = quarantine(path, reason, clock)
    log.error("telemetry buffer %s is unusable (%s); moved to %s, starting a new epoch", path, reason, event.moved_to)
    return event


async def _open_writer(path: Path, settings: TelemetrySection,
                       clock: Callable[[], float]) -> tuple[aiosqlite.Connection, OpenedState]:
    return await open_writer(path, durability=settings.durability, max_bytes=settings.max_bytes,
                             batch_size=settings.batch_size,
                             now_ms=int(clock() * 1000))


def _is_corrupt(exc: sqlite3.DatabaseError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


async def _in_own_thread(fn: Callable[[Path], str | None], path: Path) -> str | None:
    """Run ``fn`` off the event loop in a thread of its own that is joined afterwards (none outlives it)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="telemetry-check") as executor:
        return await asyncio.get_running_loop().run_in_executor(executor, fn, path)
