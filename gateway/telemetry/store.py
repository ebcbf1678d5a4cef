"""The telemetry store: producers ``put`` samples, a flusher writes them in batches, sync pulls and acks.

* ``put`` (the ``TelemetrySink`` interface) never blocks and never touches the database: it assigns the
  next sequence number, interns the series name and appends a tuple to the pending batch.
* ``run`` (a supervised part) flushes the batch every ``flush_interval_ms``, or at once when
  ``batch_size`` samples are pending: one ``BEGIN IMMEDIATE`` transaction per ``batch_size`` samples, one
  ``executemany`` of multi-row INSERTs. What was put but not yet committed is the crash-loss window (one
  flush interval); with durability ``full`` a committed batch survives power loss.
* ``read_after`` / ``ack`` are the cloud side (pull API, push sync): a separate reader connection reads
  oldest first; an ack deletes through its cursor on the writer connection.
* Overflow (budget reached, disk full) follows the configured policy: ``drop_oldest`` deletes the oldest
  samples and leaves a gap marker; ``reject_new`` refuses samples and counts them. A write that fails for
  another reason keeps its batch in memory (bounded) and is retried; the store never locks up.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiosqlite

from gateway.statedb.connection import close_state_db
from gateway.telemetry import schema
from gateway.telemetry.budget import Counters, drop_chunk, is_full_error
from gateway.telemetry.config import TelemetrySection
from gateway.telemetry.connection import OpenedState, file_bytes
from gateway.telemetry.const import FLUSH_RETRY_DELAY_MS, MAX_SERIES, OVERFLOW_MAX_ROUNDS, REJECT_PROBE_INTERVAL_MS
from gateway.telemetry.cursor import Cursor, check_cursor, decide_ack, start_seq
from gateway.telemetry.integrity import QuarantineEvent
from gateway.telemetry.opening import open_buffer
from gateway.telemetry.items import JsonPage, Page
from gateway.telemetry.reader import BufferReader
from gateway.telemetry.sink import Sample
from gateway.telemetry.writer import BatchWriter, Row, SeriesRow

log = logging.getLogger(__name__)

ERROR_MAX_CHARS = 200
CommitListener = Callable[[int, int], None]
"""Called with (first seq, last seq) of each committed batch."""


class TelemetryStore:
    """The buffer. Open with ``TelemetryStore.open``; run ``run`` as a part; always ``close``."""

    name = "telemetry"

    def __init__(self, path: Path, settings: TelemetrySection, writer: aiosqlite.Connection,
                 reader: aiosqlite.Connection, state: OpenedState, *, clock: Callable[[], float],
                 monotonic: Callable[[], float], quarantined: QuarantineEvent | None) -> None:
        self.path = path
        self.settings = settings
        self.quarantined = quarantined
        self._writer_conn = writer
        self._reader_conn = reader
        self._clock = clock
        self._monotonic = monotonic
        self._writer = BatchWriter(writer, lambda: int(clock() * 1000))
        self.epoch = state.epoch
        self._seqs = itertools.count(state.last_seq + 1)  # next(): the next sequence number
        self._committed_seq = state.last_seq
        self._acked_seq = state.acked_seq
        self._rows = state.rows
        self._series_ids = {names: sid for sid, names in state.series.items()}
        self._series_names = dict(state.series)
        self._read = BufferReader(reader, self._series_names)
        self._pending: list[Row] = []
        self._pending_series: list[SeriesRow] = []
        self._batch_size = settings.batch_size
        self._max_pending = settings.max_pending
        self._interval_s = settings.flush_interval_ms / 1000
        self._drop_oldest = settings.overflow == "drop_oldest"
        self._refusing = False
        self._refusing_until = 0.0
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._listeners: list[CommitListener] = []
        self._closed = False
        self._accept_below = self._max_pending
        self.counters = Counters(dropped_samples=state.dropped, rejected_samples=state.rejected)

    # ---- opening and closing -------------------------------------------------------------------

    @classmethod
    async def open(cls, path: Path, settings: TelemetrySection, *, clock: Callable[[], float] = time.time,
                   monotonic: Callable[[], float] = time.monotonic) -> TelemetryStore:
        """Check the file (quarantining a bad one: new epoch), open writer and reader."""
        opened = await open_buffer(path, settings, clock)
        return cls(path, settings, opened.writer, opened.reader, opened.state, clock=clock, monotonic=monotonic,
                   quarantined=opened.quarantined)

    async def close(self) -> None:
        """Final flush, then close both connections (their threads are joined). Idempotent."""
        if self._closed:
            return
        try:
            if not await self.flush():
                lost = len(self._pending)
                self.counters.dropped_pending += lost
                log.error("final telemetry flush failed; %d samples lost", lost)
        finally:
            self._set_gate(closed=True)
            try:
                await close_state_db(self._writer_conn)
            finally:
                await close_state_db(self._reader_conn)

    def add_commit_listener(self, listener: CommitListener) -> None:
        self._listeners.append(listener)

    # ---- producers -------------------------------------------------------------------------------

    def put(self, sample: Sample) -> None:
        """Accept one sample without blocking (``TelemetrySink``)."""
        pending = self._pending
        size = len(pending)
        if size >= self._accept_below:  # refusing, closed, or too much waiting in memory
            self._refuse_one()
            return
        sid = self._series_ids.get((sample.source, sample.metric))
        if sid is None:
            sid = self._new_series(sample.source, sample.metric)
            if sid is None:
                return
        pending.append((next(self._seqs), round(sample.ts * 1000.0), sid, sample.value))
        if size + 1 == self._batch_size:
            self._wake.set()

    def _refuse_one(self) -> None:
        if self._refusing or self._closed:
            self.counters.rejected_samples += 1
        else:
            self.counters.dropped_pending += 1

    def _set_gate(self, *, refusing: bool | None = None, closed: bool | None = None) -> None:
        if refusing is not None:
            self._refusing = refusing
        if closed is not None:
            self._closed = closed
        # put() accepts while fewer samples than this are pending: 0 while refusing or closed
        self._accept_below = 0 if self._refusing or self._closed else self._max_pending

    def _new_series(self, source: str, metric: str) -> int | None:
        if len(self._series_ids) >= MAX_SERIES:
            self.counters.refused_series += 1
            return None
        sid = len(self._series_names) + 1
        while sid in self._series_names:
            sid += 1
        self._series_ids[(source, metric)] = sid
        self._series_names[sid] = (source, metric)
        self._pending_series.append((sid, source, metric))
        return sid

    # ---- flushing --------------------------------------------------------------------------------

    async def run(self) -> None:
        """Flush on schedule until cancelled (a supervised part). A flush in progress is never cut short."""
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self._interval_s)
            except TimeoutError:
                pass
            self._wake.clear()
            if self._refusing and self._monotonic() >= self._refusing_until:
                self._set_gate(refusing=False)
            ok = await asyncio.shield(self.flush())
            if not ok:
                await asyncio.sleep(FLUSH_RETRY_DELAY_MS / 1000)
            elif len(self._pending) >= self._batch_size:
                self._wake.set()  # a full batch arrived while writing: next flush at once

    async def flush(self) -> bool:
        """Write what is pending now, at most ``batch_size`` samples per transaction (so one transaction
        never outgrows the WAL reserve). False if a write failed or was refused: the unwritten samples stay
        pending (under reject_new, the batch that met the full buffer is rejected and counted)."""
        async with self._lock:
            todo = len(self._pending)  # what producers add meanwhile is for the next flush
            if self._closed or (todo == 0 and not self._pending_series):
                return True
            while True:
                rows = self._pending[:min(todo, self._batch_size)]
                del self._pending[:len(rows)]
                todo -= len(rows)
                series, self._pending_series = self._pending_series, []
                try:
                    written = await self._write_with_overflow(rows, series)
                except Exception as exc:
                    self._pending[:0] = rows
                    self._pending_series[:0] = series
                    self._note_error(exc)
                    return False
                if not written:
                    return False
                if todo <= 0:
                    return True

    async def _write_with_overflow(self, rows: list[Row], series: list[SeriesRow]) -> bool:
        """Commit the batch, dropping the oldest to make room if need be. False: rejected (reject_new)."""
        full_seen = False
        for _ in range(OVERFLOW_MAX_ROUNDS):
            meta: list[tuple[str, object]] = [(schema.META_REJECTED, self.counters.rejected_samples)]
            if rows:
                meta.append((schema.META_LAST_SEQ, rows[-1][0]))
            try:
                await self._writer.write_batch(rows, series, meta)
            except Exception as exc:
                if not is_full_error(exc):
                    raise
                if not full_seen:
                    full_seen = True
                    self.counters.disk_full_events += 1
                    self.counters.last_error = _describe(exc)
                if not self._drop_oldest:
                    self._reject(rows, series)
                    return False
                if not await self._make_room(len(rows)):
                    raise  # nothing left to drop: keep the batch and retry later
                continue
            self._committed(rows)
            return True
        raise OverflowError("buffer still full after dropping the oldest samples")

    def _reject(self, rows: list[Row], series: list[SeriesRow]) -> None:
        self.counters.rejected_samples += len(rows)
        self._pending_series[:0] = series  # names are still needed by later samples
        self._set_gate(refusing=True)
        self._refusing_until = self._monotonic() + REJECT_PROBE_INTERVAL_MS / 1000
        log.warning("telemetry buffer full: %d samples rejected (reject_new)", len(rows))

    async def _make_room(self, batch: int) -> bool:
        try:
            dropped = await self._writer.drop_oldest(drop_chunk(batch, self._batch_size), self.counters.dropped_samples)
        except Exception as exc:
            if not is_full_error(exc):
                raise
            return False
        if dropped is None:
            return False
        self.counters.dropped_samples += dropped.count
        self._rows -= dropped.count
        log.warning("telemetry buffer full: dropped %d oldest samples (seq %d..%d)",
                    dropped.count, dropped.first_seq, dropped.last_seq)
        return True

    def _committed(self, rows: list[Row]) -> None:
        self.counters.flushes += 1
        self.counters.last_flush_at = self._clock()
        if not rows:
            return
        first, last = rows[0][0], rows[-1][0]
        self._committed_seq = last
        self._rows += len(rows)
        for listener in self._listeners:
            listener(first, last)

    def _note_error(self, exc: BaseException) -> None:
        self.counters.write_errors += 1
        self.counters.last_error = _describe(exc)
        log.error("telemetry flush failed (%s); %d samples kept for retry", self.counters.last_error,
                  len(self._pending))
        overflow = len(self._pending) - self._max_pending
        if overflow > 0:  # keep the oldest; the newest beyond the bound are lost and counted
            del self._pending[self._max_pending:]
            self.counters.dropped_pending += overflow

    # ---- the cloud side --------------------------------------------------------------------------

    @property
    def committed_seq(self) -> int:
        return self._committed_seq

    @property
    def acked(self) -> Cursor:
        return Cursor(self.epoch, self._acked_seq)

    def _start(self, cursor: Cursor | None, limit: int) -> int:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if cursor is not None:
            check_cursor(cursor, epoch=self.epoch, last_seq=self._committed_seq)
        return start_seq(cursor, acked_seq=self._acked_seq)

    async def read_after(self, cursor: Cursor | None, limit: int) -> Page:
        """Up to ``limit`` items after ``cursor`` (after the acked cursor if None), oldest first.

        Only committed samples are read (a batch committing right now is for the next pull). Raises
        ``CursorError`` for a cursor of another epoch or beyond the newest committed sample.
        """
        start = self._start(cursor, limit)
        return await self._read.page(self.epoch, start, self._committed_seq, limit)

    async def read_after_json(self, cursor: Cursor | None, limit: int) -> JsonPage:
        """``read_after`` with the items rendered as one JSON array by SQLite (the pull API's hot path)."""
        start = self._start(cursor, limit)
        return await self._read.page_json(self.epoch, start, self._committed_seq, limit)

    async def ack(self, cursor: Cursor) -> tuple[Cursor, int, bool]:
        """Delete everything through ``cursor``. Returns (acked cursor, samples deleted, was new).

        A replayed or older ack changes nothing; a stale or future cursor raises ``CursorError``.
        """
        decision = decide_ack(cursor, epoch=self.epoch, last_seq=self._committed_seq, acked_seq=self._acked_seq)
        if decision.delete_through is None:
            return self.acked, 0, False
        deleted = 0
        while self._acked_seq < decision.delete_through:
            async with self._lock:
                if self._closed:
                    raise RuntimeError("telemetry store is closed")
                reach, samples, _markers = await self._writer.ack_chunk(decision.delete_through, self._batch_size)
                self._acked_seq = max(self._acked_seq, reach)
                self._rows -= samples
                deleted += samples
        self._set_gate(refusing=False)
        return self.acked, deleted, True

    # ---- reporting -------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Figures for status (cheap: no database round trip)."""
        return {
            "epoch": self.epoch,
            "backlog_samples": self._rows,
            "pending_samples": len(self._pending),
            "committed_seq": self._committed_seq,
            "acked_cursor": self.acked.encode(),
            "size_bytes": file_bytes(self.path),
            "max_bytes": self.settings.max_bytes,
            "overflow": self.settings.overflow,
            "durability": self.settings.durability,
            "refusing": self._refusing,
            "series": len(self._series_names),
            **self.counters.as_dict(),
            "quarantined": self.quarantined.as_dict() if self.quarantined else None,
        }


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:ERROR_MAX_CHARS]
