"""Transport rules of the spec: JSON errors, body limit, 415/400/422, headers, request ids, no tracebacks."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiohttp import web

from gateway.api.table import core_routes
from gateway.auth.roles import Permission
from gateway.factory import Gateway
from gateway.http.app import build_web_app
from gateway.http.routes import Route
from gateway.http.middlewares.security_headers import API_CSP, PAGE_CSP
from gateway.http.server import start_http
from gateway.logs import RequestIdFilter
from tests.support.gateway import ApiClient, issue


def assert_error(reply, status: int, code: str) -> dict:
    assert reply.status == status, (reply.status, reply.body)
    assert reply.headers["Content-Type"].startswith("application/json")
    body = reply.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


async def test_unknown_path_and_method(gateway: Gateway, client: ApiClient) -> None:
    token = await issue(gateway, "admin")
    assert_error(await client.request("GET", "/api/v1/nope"), 401, "unauthorized")  # nothing disclosed
    assert_error(await client.request("GET", "/api/v1/nope", token=token), 404, "not_found")
    reply = await client.request("PATCH", "/api/v1/status", token=token)
    assert_error(reply, 405, "method_not_allowed")


async def test_body_limit_413(gateway: Gateway, client: ApiClient) -> None:
    token = await issue(gateway, "admin")
    big = b'{"sub": "' + b"x" * (70 * 1024) + b'", "role": "viewer"}'
    reply = await client.request("POST", "/api/v1/tokens", token=token, data=big,
                                 headers={"Content-Type": "application/json"})
    assert_error(reply, 413, "payload_too_large")

    async def chunks():
        for _ in range(80):
            yield b"x" * 1024

    reply = await client.request("POST", "/api/v1/tokens", token=token, data=chunks(),
                                 headers={"Content-Type": "application/json"})
    assert_error(reply, 413, "payload_too_large")


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code", "field"),
    [
        (b"{}", "text/plain", 415, "unsupported_media_type", None),
        (b"{not json", "application/json", 400, "invalid_json", None),
        (b"", "application/json", 400, "invalid_json", None),
        (b'{"sub": "a", "role": "viewer", "extra": 1}', "application/json", 422, "validation_error", "body.extra"),
        (b'{"sub": 5, "role": "viewer"}', "application/json", 422, "validation_error", "body.sub"),
        (b'{"sub": "a", "role": "root"}', "application/json", 422, "validation_error", "body.role"),
        (b'{"sub": "a", "role": "viewer", "ttl_s": "600"}', "application/json", 422, "validation_error", "body.ttl_s"),
        (b'{"sub": "a", "role": "viewer", "ttl_s": 999999999}', "application/json", 422, "validation_error", "body.ttl_s"),
        (b'{"role": "viewer"}', "application/json", 422, "validation_error", "body.sub"),
        (b'{"sub": "a\\u0000b", "role": "viewer"}', "application/json", 422, "validation_error", "body.sub"),
        (b'{"sub": "a", "role": "viewer", "ttl_s": 59}', "application/json", 422, "validation_error", "body.ttl_s"),
        (b"[1, 2]", "application/json", 422, "validation_error", "body"),
    ],
)
async def test_bad_bodies(gateway: Gateway, client: ApiClient, body, content_type, status, code, field) -> None:
    token = await issue(gateway, "admin")
    reply = await client.request("POST", "/api/v1/tokens", token=token, data=body, headers={"Content-Type": content_type})
    error = assert_error(reply, status, code)
    if field is not None:
        assert error["message"].startswith(field), error
        assert any(f["field"] == field for f in error["fields"]), error


async def test_bad_query_422(gateway: Gateway, client: ApiClient) -> None:
    token = await issue(gateway, "admin")
    for query, field in (("limit=0", "query.limit"), ("limit=abc", "query.limit"), ("before=-1", "query.before"),
                         ("limit=1&limit=2", "query.limit")):
        error = assert_error(await client.request("GET", f"/api/v1/audit?{query}", token=token), 422, "validation_error")
        assert error["message"].startswith(field), (query, error)


async def test_security_headers_and_request_ids(gateway: Gateway, client: ApiClient) -> None:
    token = await issue(gateway, "viewer")
    seen = set()
    for path, auth in (("/api/v1/status", token), ("/api/v1/status", None), ("/healthz", None), ("/metrics", token)):
        reply = await client.request("GET", path, token=auth)
        headers = reply.headers
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Cache-Control"] == "no-store"
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["Server"] == "edge-gateway"  # no framework or Python version disclosed
        seen.add(headers["X-Request-ID"])
    assert len(seen) == 4


async def test_crash_in_handler_is_500_without_traceback_and_logged_with_request_id(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    async def explode(request: web.Request) -> web.Response:
        raise RuntimeError("secret internal detail")

    routes = core_routes() + [Route("GET", "/api/v1/explode", "explode", explode, "test", permission=Permission.STATUS_READ)]
    server = await start_http(build_web_app(gateway.context, routes), gateway.config.http, shutdown_timeout_s=1)
    api = ApiClient(server.urls[0])
    try:
        with caplog.at_level(logging.ERROR):
            reply = await api.request("GET", "/api/v1/explode", token=await issue(gateway, "viewer"))
        assert_error(reply, 500, "internal_error")
        assert "secret internal detail" not in reply.body.decode() and "Traceback" not in reply.body.decode()
        request_id = reply.headers["X-Request-ID"]
        logged = [r for r in caplog.records if r.levelno == logging.ERROR and request_id in r.getMessage()]
        assert logged and logged[0].exc_info is not None  # the traceback goes to the log, not the client
    finally:
        await api.close()
        await server.stop()


def test_route_without_permission_cannot_be_declared() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response()

    with pytest.raises(ValueError, match="names no permission"):
        Route("GET", "/api/v1/open", "open", handler, "oops")


class RecordsWithRequestId(logging.Handler):
    """Collects records after the same filter the service's log handler uses."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.addFilter(RequestIdFilter())
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_every_log_line_of_a_request_carries_its_request_id(gateway: Gateway) -> None:
    handler_log = logging.getLogger("gateway.test.handler")

    async def chatty(request: web.Request) -> web.Response:
        handler_log.info("handling %s", request.path)
        await asyncio.sleep(0)  # across an await, too
        handler_log.warning("still handling %s", request.path)
        return web.json_response({"ok": True})

    routes = core_routes() + [Route("GET", "/api/v1/chatty", "chatty", chatty, "test", permission=Permission.STATUS_READ)]
    server = await start_http(build_web_app(gateway.context, routes), gateway.config.http, shutdown_timeout_s=1)
    api = ApiClient(server.urls[0])
    collector = RecordsWithRequestId()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(collector)
    root.setLevel(logging.DEBUG)
    try:
        token = await issue(gateway, "viewer")
        replies = [await api.request("GET", "/api/v1/chatty", token=token) for _ in range(3)]
        unauthorized = await api.request("GET", "/api/v1/chatty")
    finally:
        root.removeHandler(collector)
        root.setLevel(old_level)
        await api.close()
        await server.stop()
    for reply in [*replies, unauthorized]:
        request_id = reply.headers["X-Request-ID"]
        lines = [r for r in collector.records if r.request_id == request_id]  # type: ignore[attr-defined]
        assert any("GET /api/v1/chatty ->" in r.getMessage() for r in lines), request_id  # the request line
        if reply.status == 200:
            assert [r.getMessage() for r in lines if r.name == "gateway.test.handler"] == [
                "handling /api/v1/chatty", "still handling /api/v1/chatty"]
    handler_lines = [r for r in collector.records if r.name == "gateway.test.handler"]
    assert len(handler_lines) == 6 and all(r.request_id != "-" for r in handler_lines)  # type: ignore[attr-defined]
    assert len({r.request_id for r in handler_lines}) == 3  # type: ignore[attr-defined]


async def test_page_gets_the_page_csp_and_api_errors_keep_the_api_headers(gateway: Gateway) -> None:
    async def page(request: web.Request) -> web.Response:
        return web.Response(text="<!doctype html><title>t</title>", content_type="text/html")

    routes = core_routes() + [Route("GET", "/test-page", "test.page", page, "test", public=True, content_type="text/html")]
    server = await start_http(build_web_app(gateway.context, routes), gateway.config.http, shutdown_timeout_s=1)
    api = ApiClient(server.urls[0])
    try:
        reply = await api.request("GET", "/test-page")
        assert reply.status == 200
        assert reply.headers["Content-Security-Policy"] == PAGE_CSP
        assert "'unsafe-inline'" not in PAGE_CSP and "frame-ancestors 'none'" in PAGE_CSP
        assert reply.headers["X-Content-Type-Options"] == "nosniff" and reply.headers["X-Frame-Options"] == "DENY"
        assert reply.headers["Cache-Control"] == "no-cache" and reply.headers["X-Request-ID"]
        token = await issue(gateway, "admin")
        big = await api.request("POST", "/api/v1/tokens", token=token, data=b"x" * (64 * 1024 + 1),
                                headers={"Content-Type": "application/json"})
        for _ in range(6):
            blocked = await api.request("GET", "/api/v1/status", token="bad")
        for error in (big, blocked):
            assert error.status in (413, 429)
            assert error.headers["Content-Security-Policy"] == API_CSP
            assert error.headers["Cache-Control"] == "no-store" and error.headers["X-Request-ID"]
            assert error.headers["X-Content-Type-Options"] == "nosniff"
        assert blocked.status == 429 and big.status == 413
    finally:
        await api.close()
        await server.stop()


async def test_body_of_exactly_64_kib_is_read(gateway: Gateway, client: ApiClient) -> None:
    token = await issue(gateway, "admin")
    prefix, suffix = b'{"sub": "a", "role": "viewer", "pad": "', b'"}'
    body = prefix + b"x" * (64 * 1024 - len(prefix) - len(suffix)) + suffix
    assert len(body) == 64 * 1024
    error = assert_error(await client.request("POST", "/api/v1/tokens", token=token, data=body,
                                              headers={"Content-Type": "application/json"}), 422, "validation_error")
    assert error["fields"][0]["field"] == "body.pad"  # read and validated, not refused for its size


async def test_streamed_responses_and_websocket_handshakes_carry_the_headers(gateway: Gateway) -> None:
    """Headers sent before a handler returns (streams, WebSocket upgrades) get the id and security headers too."""

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_type = "application/json"
        await response.prepare(request)
        await response.write(b'{"streamed": true}')
        await response.write_eof()
        return response

    async def socket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.close()
        return ws

    routes = core_routes() + [
        Route("GET", "/api/v1/stream", "test.stream", stream, "test", permission=Permission.STATUS_READ),
        Route("GET", "/api/v1/socket", "test.socket", socket, "test", public=True),
    ]
    server = await start_http(build_web_app(gateway.context, routes), gateway.config.http, shutdown_timeout_s=1)
    api = ApiClient(server.urls[0])
    try:
        streamed = await api.request("GET", "/api/v1/stream", token=await issue(gateway, "viewer"))
        assert streamed.status == 200 and streamed.json() == {"streamed": True}
        async with api.session.ws_connect(server.urls[0] + "/api/v1/socket") as ws:
            handshake = ws._response.headers  # the 101 response's headers
            assert ws._response.status == 101
        for headers in (streamed.headers, handshake):
            assert len(headers["X-Request-ID"]) == 16
            assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "DENY"
            assert headers["Content-Security-Policy"] == API_CSP and headers["Cache-Control"] == "no-store"
            assert headers["Server"] == "edge-gateway"  # not aiohttp's name and version
    finally:
        await api.close()
        await server.stop()
