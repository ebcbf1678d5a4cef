"""Telemetry pull API for the cloud connector (`sync` role): pull oldest first, ack to delete."""

from __future__ import annotations

import json

from aiohttp import web

from gateway.api.telemetry_models import (
    TelemetryAckRequest,
    TelemetryAcked,
    TelemetryPage,
    TelemetryQuery,
)
from gateway.auth.roles import Permission
from gateway.http.errors import ApiError
from gateway.http.keys import AUDIT_NOTE, AuditNote
from gateway.http.routes import QueryParam, Route
from gateway.http.validation import read_body, read_query
from gateway.telemetry.const import PAGE_DEFAULT_SAMPLES, PAGE_MAX_SAMPLES
from gateway.telemetry.cursor import Cursor, CursorError, parse_cursor
from gateway.telemetry.store import TelemetryStore


def cursor_error(exc: CursorError, field: str) -> ApiError:
    """Malformed: 422 naming the field. Stale epoch or future: 409 with the current epoch."""
    if exc.kind == "malformed":
        return ApiError(422, "validation_error", f"{field}: {exc.message}",
                        extra={"fields": [{"field": field, "message": exc.message}]})
    return ApiError(409, exc.kind, exc.message, extra={"current_epoch": exc.current_epoch})


def _parse(text: str, field: str) -> Cursor:
    try:
        return parse_cursor(text)
    except CursorError as exc:
        raise cursor_error(exc, field) from None


class TelemetryApi:
    """Handlers bound to the store they serve."""

    def __init__(self, store: TelemetryStore) -> None:
        self._store = store

    async def pull(self, request: web.Request) -> web.Response:
        query = read_query(request, TelemetryQuery)
        after = _parse(query.after, "query.after") if query.after is not None else None
        try:
            page = await self._store.read_after_json(after, query.limit)
        except CursorError as exc:
            raise cursor_error(exc, "query.after") from None
        # SQLite renders the items in TelemetryItem's shape (a test validates pages against TelemetryPage).
        body = f'{{"items":{page.items_json},"next":{json.dumps(page.next.encode())},"more":{json.dumps(page.more)}}}'
        return web.Response(body=body.encode(), content_type="application/json")

    async def ack(self, request: web.Request) -> web.Response:
        body = await read_body(request, TelemetryAckRequest)
        cursor = _parse(body.cursor, "body.cursor")
        request[AUDIT_NOTE] = AuditNote(target=cursor.encode())
        try:
            acked, deleted, new = await self._store.ack(cursor)
        except CursorError as exc:
            raise cursor_error(exc, "body.cursor") from None
        request[AUDIT_NOTE] = AuditNote(target=cursor.encode(), details={"deleted": deleted, "replayed": not new})
        reply = TelemetryAcked(acked=acked.encode(), deleted=deleted, replayed=not new)
        return web.Response(body=reply.model_dump_json().encode(), content_type="application/json")


def telemetry_routes(store: TelemetryStore) -> list[Route]:
    api = TelemetryApi(store)
    return [
        Route("GET", "/api/v1/telemetry", "telemetry.pull", api.pull,
              "Buffered samples oldest first, with gap markers; pass 'next' as ?after= to continue.",
              permission=Permission.TELEMETRY_READ, response=TelemetryPage, errors=(409, 422),
              query=(QueryParam("after", {"type": "string"}, "Cursor of the last item seen (default: the acked cursor)."),
                     QueryParam("limit", {"type": "integer", "minimum": 1, "maximum": PAGE_MAX_SAMPLES,
                                          "default": PAGE_DEFAULT_SAMPLES}, "Most items to return."))),
        Route("POST", "/api/v1/telemetry/ack", "telemetry.ack", api.ack,
              "Acknowledge everything through a cursor: it is deleted. Stale-epoch and future cursors get 409.",
              permission=Permission.TELEMETRY_ACK, body=TelemetryAckRequest, response=TelemetryAcked,
              errors=(409, 422), audited=True),
    ]
