"""Every failure becomes the JSON error shape; a stack trace never reaches a client."""

from __future__ import annotations

import logging

from aiohttp import web

from gateway.http.errors import ApiError, error_response, from_http_exception
from gateway.http.keys import REQUEST_ID
from gateway.http.routes import Handler

log = logging.getLogger("gateway.http")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # redirects and the like are not errors
        return error_response(from_http_exception(exc))
    except Exception:
        log.exception("unhandled error in %s %s (request %s)", request.method, request.path, request.get(REQUEST_ID))
        return error_response(ApiError(500, "internal_error", "internal error; see the gateway log for this request id"))
