"""Requests aiohttp refuses before the app sees them, answered by the gateway's own code path.

When aiohttp's HTTP parser rejects a request (a bare LF in the header block, an over-long line, a bad
method, broken chunked framing...), or an error escapes every middleware, aiohttp calls
``RequestHandler.handle_error``. Its default logs an ERROR traceback whose exception message quotes the
raw request bytes (an ``Authorization`` header included), and answers with a text body that echoes them,
aiohttp's ``Server`` header and none of the app's headers (the request never reaches the app, so no
``on_response_prepare`` hook runs).

``GatewayRequestHandler`` overrides ``handle_error``: the API's JSON error shape with a fixed message,
the security headers of every other response (HSTS over TLS), the connection closed, and one log line
per request naming only the client address and the kind of error (never the exception's text), so the
service's RepeatFilter folds a flood of them. Parser errors are counted in ``gateway_http_requests``
under the route ``unparsed``. ``GatewayAppRunner`` makes aiohttp's low-level server build these
handlers (aiohttp 3.x has no public option for the handler class).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import (
    BadHttpMethod,
    HttpProcessingError,
    LineTooLong,
    PayloadEncodingError,
)
from aiohttp.web_protocol import RequestHandler

from gateway.http.errors import HTTP_STATUS_CODES, error_body
from gateway.http.middlewares.request_id import REQUEST_ID_BYTES, REQUEST_ID_HEADER
from gateway.http.middlewares.security_headers import apply_security_headers
from gateway.logs import REQUEST_ID_VAR

log = logging.getLogger("gateway.http")

PARSE_ERROR_ROUTE = "unparsed"
"""The `route` label of parser-refused requests in `gateway_http_requests` (method label: `-`)."""

OnBadRequest = Callable[[int], None]
"""Called with the status of each request the parser refused (the metrics counter)."""


def describe_parse_error(exc: BaseException | None) -> str:
    """A fixed text per kind of parser error: the exception's own message quotes request bytes."""
    if isinstance(exc, LineTooLong):
        return "request line or header field too long"
    if isinstance(exc, BadHttpMethod):
        return "invalid HTTP method"
    if isinstance(exc, PayloadEncodingError):
        return "invalid body framing"
    return "malformed HTTP request"


class GatewayRequestHandler(RequestHandler):
    """aiohttp's per-connection protocol, with the error responses of the gateway."""

    __slots__ = ("_on_bad_request",)

    def __init__(self, *args: Any, on_bad_request: OnBadRequest | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_bad_request = on_bad_request

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,  # aiohttp's text, which may quote the request: never used
    ) -> web.StreamResponse:
        request_id = secrets.token_hex(REQUEST_ID_BYTES)
        token = REQUEST_ID_VAR.set(request_id)
        try:
            parse_error = isinstance(exc, HttpProcessingError)
            if parse_error:
                text = describe_parse_error(exc)
                log.warning("refused a malformed HTTP request from %s: %s", request.remote, text)
                if self._on_bad_request is not None:
                    try:
                        self._on_bad_request(status)
                    except Exception:  # a metrics failure must not cost the response
                        log.warning("could not count a malformed request", exc_info=True)
            elif status == 504:
                text = "request handling timed out"
                log.warning("request handling timed out (client %s)", request.remote)
            else:
                text = "internal error; see the gateway log for this request id"
                # Our own bug escaped every middleware: keep the traceback (code, not request bytes).
                log.error("unhandled error outside the app's error handling: %s", type(exc).__name__, exc_info=exc)
        finally:
            REQUEST_ID_VAR.reset(token)

        if request.writer.output_size > 0:  # headers already sent: only closing is left (as aiohttp does)
            raise ConnectionError("response already started; closing the connection")

        code = HTTP_STATUS_CODES.get(status, "http_error")
        response = web.json_response(error_body(code, text), status=status)
        response.headers[REQUEST_ID_HEADER] = request_id
        apply_security_headers(request, response, machine=True)
        response.force_close()
        return response


class GatewayServer(web.Server):
    """aiohttp's low-level server, building ``GatewayRequestHandler`` for each connection."""

    on_bad_request: OnBadRequest | None = None

    def __call__(self) -> RequestHandler:
        return GatewayRequestHandler(self, loop=self._loop, on_bad_request=self.on_bad_request, **self._kwargs)


class GatewayAppRunner(web.AppRunner):
    """``web.AppRunner`` whose server answers parser errors through ``GatewayRequestHandler``."""

    __slots__ = ("_on_bad_request",)

    def __init__(self, app: web.Application, *, on_bad_request: OnBadRequest | None = None, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._on_bad_request = on_bad_request

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()  # app start-up and freeze, exactly as aiohttp does them
        server.__class__ = GatewayServer  # same object and state; only the protocol factory changes
        server.on_bad_request = self._on_bad_request  # type: ignore[attr-defined]
        return server
