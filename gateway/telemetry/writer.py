"""The write transactions of the buffer, on its one writer connection (explicit ``BEGIN IMMEDIATE``).

Each method is one or a few transactions; on any error the transaction is rolled back and the error
raised, so the connection is always left outside a transaction. The caller (the store) serialises
calls: a transaction spans several awaits of aiosqlite's thread.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from itertools import chain
from dataclasses import dataclass

import aiosqlite

from gateway.telemetry import schema
from gateway.telemetry.const import MULTI_ROW_INSERT_ROWS

Row = tuple[int, int, int, float]
"""(seq, ts_ms, series id, value) as inserted."""
SeriesRow = tuple[int, str, str]
ClockMs = Callable[[], int]


@dataclass(frozen=True, slots=True)
class Dropped:
    """A run of the oldest samples deleted by drop_oldest, now one gap marker at ``last_seq``."""

    count: int
    first_seq: int
    last_seq: int
    first_ts_ms: int
    last_ts_ms: int


class BatchWriter:
    def __init__(self, conn: aiosqlite.Connection, clock_ms: ClockMs) -> None:
        self._conn = conn
        self._clock_ms = clock_ms

    async def _rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error, ValueError):
            if self._conn.in_transaction:
                await self._conn.execute("ROLLBACK")

    async def write_batch(self, rows: Sequence[Row], series: Sequence[SeriesRow],
                          meta: Sequence[tuple[str, object]]) -> None:
        """Insert new series, the samples and the meta updates in one transaction."""
        try:
            await self._conn.execute("BEGIN IMMEDIATE")
            if series:
                await self._conn.executemany(schema.INSERT_SERIES, series)
            full = len(rows) - len(rows) % MULTI_ROW_INSERT_ROWS
            if full:  # the generator runs in aiosqlite's thread, off the event loop
                await self._conn.executemany(schema.INSERT_SAMPLES_MULTI, _row_groups(rows, full))
            if full < len(rows):
                await self._conn.executemany(schema.INSERT_SAMPLE, rows[full:])
            await self._conn.executemany(schema.SET_META, meta)
            await self._conn.execute("COMMIT")
        except BaseException:
            await self._rollback()
            raise

    async def set_meta(self, meta: Sequence[tuple[str, object]]) -> None:
        try:
            await self._conn.execute("BEGIN IMMEDIATE")
            await self._conn.executemany(schema.SET_META, meta)
            await self._conn.execute("COMMIT")
        except BaseException:
            await self._rollback()
            raise

    async def drop_oldest(self, count: int, dropped_total: int) -> Dropped | None:
        """Delete the ``count`` oldest samples and leave one gap marker for them (merging older markers).

        Returns None when there is nothing to drop.
        """
        try:
            await self._conn.execute("BEGIN IMMEDIATE")
            first = await _one(self._conn, schema.FIRST_SAMPLE)
            if first is None:
                await self._conn.execute("ROLLBACK")
                return None
            last = await _one(self._conn, schema.OLDEST_SAMPLES, (count - 1,))
            if last is None:
                last = await _one(self._conn, schema.LAST_SAMPLE)
            assert last is not None
            last_seq, last_ts = int(last[0]), int(last[1])
            cursor = await self._conn.execute(schema.DELETE_SAMPLES_THROUGH, (last_seq,))
            deleted = cursor.rowcount
            await cursor.close()
            earlier = await _one(self._conn, "SELECT COALESCE(SUM(count), 0), MIN(first_seq), MIN(first_ts_ms) "
                                             "FROM gaps WHERE seq <= ?", (last_seq,))
            merged_count = int(earlier[0]) if earlier else 0
            first_seq, first_ts = int(first[0]), int(first[1])
            if merged_count:
                first_seq = min(first_seq, int(earlier[1]))
                first_ts = min(first_ts, int(earlier[2]))
                await self._conn.execute(schema.DELETE_GAPS_THROUGH, (last_seq,))
            await self._conn.execute(
                "INSERT INTO gaps (seq, count, first_seq, first_ts_ms, last_ts_ms, recorded_ms) VALUES (?, ?, ?, ?, ?, ?)",
                (last_seq, deleted + merged_count, first_seq, first_ts, last_ts, self._clock_ms()),
            )
            await self._conn.execute(schema.SET_META, (schema.META_DROPPED, dropped_total + deleted))
            await self._conn.execute("COMMIT")
        except BaseException:
            await self._rollback()
            raise
        return Dropped(count=deleted, first_seq=first_seq, last_seq=last_seq, first_ts_ms=first_ts, last_ts_ms=last_ts)

    async def ack_chunk(self, through_seq: int, chunk: int) -> tuple[int, int, int]:
        """Delete samples and markers up to ``through_seq``, at most ``chunk`` samples.

        Returns (acked seq reached, samples deleted, markers deleted); call again until it reaches ``through_seq``.
        """
        try:
            await self._conn.execute("BEGIN IMMEDIATE")
            limit_row = await _one(self._conn, "SELECT seq FROM samples WHERE seq <= ? ORDER BY seq LIMIT 1 OFFSET ?",
                                   (through_seq, chunk))
            reach = through_seq if limit_row is None else int(limit_row[0]) - 1
            samples = await self._conn.execute(schema.DELETE_SAMPLES_THROUGH, (reach,))
            gaps = await self._conn.execute(schema.DELETE_GAPS_THROUGH, (reach,))
            deleted_samples, deleted_gaps = samples.rowcount, gaps.rowcount
            await samples.close()
            await gaps.close()
            await self._conn.execute(schema.SET_META, (schema.META_ACKED_SEQ, reach))
            await self._conn.execute("COMMIT")
        except BaseException:
            await self._rollback()
            raise
        return reach, deleted_samples, deleted_gaps


def _row_groups(rows: Sequence[Row], end: int) -> Iterator[list[object]]:
    """The parameters of one multi-row INSERT per MULTI_ROW_INSERT_ROWS rows of ``rows[:end]``."""
    for start in range(0, end, MULTI_ROW_INSERT_ROWS):
        yield list(chain.from_iterable(rows[start:start + MULTI_ROW_INSERT_ROWS]))


async def _one(conn: aiosqlite.Connection, sql: str, params: Sequence[object] = ()) -> sqlite3.Row | tuple | None:
    async with conn.execute(sql, params) as cursor:
        return await cursor.fetchone()

