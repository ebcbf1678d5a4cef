"""The telemetry store (issue 6) as a ``SyncSource``: the same acked cursor the pull API uses."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.sync.batch import SyncRow
from gateway.sync.source import SourceCursor, StaleCursorError
from gateway.telemetry.cursor import Cursor, CursorError
from gateway.telemetry.store import TelemetryStore


class TelemetryStoreSource:
    def __init__(self, store: TelemetryStore) -> None:
        self._store = store

    async def acked_cursor(self) -> SourceCursor:
        acked = self._store.acked
        return SourceCursor(acked.epoch, acked.seq)

    async def read_after(self, cursor: SourceCursor, limit: int) -> Sequence[SyncRow]:
        try:
            page = await self._store.read_after(Cursor(cursor.epoch, cursor.seq), limit)
        except CursorError as exc:
            if exc.kind == "stale_epoch":
                raise StaleCursorError(exc.message) from None
            raise
        return [SyncRow(item["seq"], item["ts"], item["source"], item["metric"], item["value"], item.get("gap"))
                for item in page.items]

    async def ack(self, cursor: SourceCursor) -> None:
        try:
            await self._store.ack(Cursor(cursor.epoch, cursor.seq))
        except CursorError as exc:
            if exc.kind == "stale_epoch":
                raise StaleCursorError(exc.message) from None
            raise

    async def backlog(self) -> int:
        return int(self._store.stats()["backlog_samples"])
