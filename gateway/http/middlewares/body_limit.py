"""Refuse oversized bodies before reading them (the app's client_max_size also bounds chunked ones)."""

from __future__ import annotations

from aiohttp import web

from gateway.http.errors import ApiError
from gateway.http.routes import Handler


def body_limit_middleware(max_body_bytes: int) -> web.middleware:
    @web.middleware
    async def body_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        length = request.content_length
        if length is not None and length > max_body_bytes:
            raise ApiError(413, "payload_too_large", f"request body over {max_body_bytes} bytes")
        return await handler(request)

    return body_limit
