"""Request ids: one per request, on the response (`X-Request-ID`) and on every log line it causes."""

from __future__ import annotations

import logging
import secrets
import time

from aiohttp import web

from gateway.http.keys import REQUEST_ID
from gateway.http.routes import Handler
from gateway.logs import REQUEST_ID_VAR

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_BYTES = 8

log = logging.getLogger("gateway.http")


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = secrets.token_hex(REQUEST_ID_BYTES)
    request[REQUEST_ID] = request_id
    token = REQUEST_ID_VAR.set(request_id)
    started = time.perf_counter()
    try:
        response = await handler(request)
        log.debug(
            "%s %s -> %d (%.1f ms) from %s",
            request.method, request.path, response.status, (time.perf_counter() - started) * 1000, request.remote,
        )
        return response
    finally:
        REQUEST_ID_VAR.reset(token)


async def request_id_on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare` hook: the id goes on every response before its headers are sent (also
    streamed responses and WebSocket handshakes)."""
    request_id = request.get(REQUEST_ID)
    if request_id is not None:
        response.headers[REQUEST_ID_HEADER] = request_id
