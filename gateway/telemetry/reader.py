"""The read side of the buffer, on its own connection: pages of the ordered sample/gap stream."""

from __future__ import annotations

from collections.abc import Mapping

import aiosqlite

from gateway.telemetry import schema
from gateway.telemetry.cursor import Cursor
from gateway.telemetry.items import JsonPage, Page, rows_to_items


class BufferReader:
    """Reads items with ``start < seq <= upto`` (``upto``: the newest sequence the writer confirmed)."""

    def __init__(self, conn: aiosqlite.Connection, names: Mapping[int, tuple[str, str]]) -> None:
        self._conn = conn
        self._names = names  # the store's live series dictionary (ids -> (source, metric))

    async def page(self, epoch: str, start: int, upto: int, limit: int) -> Page:
        rows = list(await self._conn.execute_fetchall(
            schema.SELECT_AFTER, {"after": start, "upto": upto, "limit": limit + 1}))
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(items=rows_to_items(rows, self._names), next=Cursor(epoch, rows[-1][0] if rows else start),
                    more=more)

    async def page_json(self, epoch: str, start: int, upto: int, limit: int) -> JsonPage:
        """The same page with the items rendered as one JSON array by SQLite (the pull API's hot path)."""
        rows = list(await self._conn.execute_fetchall(
            schema.SELECT_AFTER_JSON, {"after": start, "upto": upto, "limit": limit + 1}))
        more = len(rows) > limit
        rows = rows[:limit]
        return JsonPage(items_json="[" + ",".join(row[1] for row in rows) + "]", count=len(rows),
                        next=Cursor(epoch, rows[-1][0] if rows else start), more=more)
