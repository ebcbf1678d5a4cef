"""Requests aiohttp's own parser refuses are answered by the gateway's code path: JSON error, the gateway's
security headers, nothing of the request echoed, one log line without request bytes (issue 15)."""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.factory import Gateway, create_gateway
from gateway.http.bad_requests import PARSE_ERROR_ROUTE
from gateway.http.middlewares.security_headers import API_CSP, COMMON_HEADERS, HSTS, SERVER_HEADER
from gateway.logs import RepeatFilter
from tests.support.certs import TestCA
from tests.support.gateway import ApiClient, issue, make_config


@dataclass
class Site:
    gateway: Gateway
    port: int
    ssl: ssl.SSLContext | None


@dataclass
class RawReply:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes
    raw: bytes

    def json(self) -> object:
        return json.loads(self.body)


@pytest.fixture(params=["plain", "tls"])
async def site(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Site]:
    http: dict[str, object] = {"listen": [{"host": "127.0.0.1", "port": 0}]}
    client_ssl = None
    if request.param == "tls":
        ca = TestCA(tmp_path / "ca")
        device = ca.issue("gw-test-01", hosts=("127.0.0.1",))
        http["tls"] = {"cert_file": str(device.cert_file), "key_file": str(device.key_file)}
        client_ssl = ssl.create_default_context(cafile=str(ca.cert_file))
    gateway = await create_gateway(make_config(tmp_path / "state", http=http))
    await gateway.start()
    try:
        yield Site(gateway, int(gateway.urls[0].rsplit(":", 1)[1]), client_ssl)
    finally:
        await gateway.stop()


async def send_raw(site: Site, data: bytes) -> RawReply:
    """Write `data` on a fresh connection (TLS when the site serves it); read until the server closes."""
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", site.port, ssl=site.ssl, server_hostname="127.0.0.1" if site.ssl else None
    )
    try:
        writer.write(data)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 10)  # the server closes after a refused request
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (ConnectionError, ssl.SSLError):
            pass
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawReply(status, headers, body, raw)


def bare_lf_request(token: str) -> bytes:
    return f"GET /api/v1/status HTTP/1.1\r\nX-A: a\nAuthorization: Bearer {token}\r\n\r\n".encode()


def assert_gateway_error(reply: RawReply, *, tls: bool) -> None:
    assert reply.status == 400, reply.raw[:200]
    assert reply.headers["content-type"].startswith("application/json")
    body = reply.json()
    assert isinstance(body, dict) and set(body) == {"error"}
    assert body["error"]["code"] == "bad_request"
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    for name, value in COMMON_HEADERS.items():
        assert reply.headers[name.lower()] == value, name
    assert reply.headers["content-security-policy"] == API_CSP
    assert reply.headers["cache-control"] == "no-store"
    assert reply.headers["server"] == SERVER_HEADER
    assert "aiohttp" not in reply.raw.decode("latin-1").lower() and "python" not in reply.headers["server"].lower()
    if tls:
        assert reply.headers["strict-transport-security"] == HSTS
    else:
        assert "strict-transport-security" not in reply.headers
    assert reply.headers.get("connection", "close").lower() == "close"


def unparsed_count(gateway: Gateway) -> float:
    value = gateway.context.metrics.registry.get_sample_value(
        "gateway_http_requests_total", {"route": PARSE_ERROR_ROUTE, "method": "-", "status": "400"}
    )
    return value or 0.0


async def test_bare_lf_token_request_leaks_nothing(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    token = await issue(site.gateway, "admin")
    caplog.clear()

    reply = await send_raw(site, bare_lf_request(token))

    assert_gateway_error(reply, tls=site.ssl is not None)
    assert token.encode() not in reply.raw
    assert b"X-A" not in reply.raw and b"Bearer" not in reply.raw  # nothing of the request echoed
    await asyncio.sleep(0.05)  # let the handler's log line land
    for record in caplog.records:
        text = record.getMessage()
        assert token not in text, (record.name, text)
        assert "Bearer" not in text and "X-A" not in text, (record.name, text)
        assert record.exc_info is None and record.exc_text is None, (record.name, text)  # no traceback
        assert record.levelno < logging.ERROR, (record.name, text)
    refused = [r for r in caplog.records if r.name == "gateway.http" and "malformed HTTP request" in r.getMessage()]
    assert len(refused) == 1
    assert not [r for r in caplog.records if r.name.startswith("aiohttp")]
    assert unparsed_count(site.gateway) == 1

    # the gateway still serves well-formed requests (and the token still works: nothing was consumed)
    api = ApiClient(site.gateway.urls[0], ssl=site.ssl)
    try:
        assert (await api.request("GET", "/api/v1/status", token=token)).status == 200
    finally:
        await api.close()


LONG = "b" * 9000


@pytest.mark.parametrize(
    ("name", "template"),
    [
        ("long header", "GET /api/v1/status HTTP/1.1\r\nAuthorization: Bearer {token}\r\nX-B: " + LONG + "\r\n\r\n"),
        ("long request line", "GET /api/v1/status?" + LONG + " HTTP/1.1\r\nAuthorization: Bearer {token}\r\n\r\n"),
        ("bad method", "G(T /api/v1/status HTTP/1.1\r\nAuthorization: Bearer {token}\r\n\r\n"),
        ("bad version", "GET /api/v1/status HTTP/9.{token}\r\nAuthorization: Bearer {token}\r\n\r\n"),
        ("bad header name", "GET /api/v1/status HTTP/1.1\r\nAuthorization: Bearer {token}\r\nX{token}(: 1\r\n\r\n"),
        ("invalid chunk", "POST /api/v1/tokens HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {token}\r\n"
                          "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz{token}\r\n\r\n"),
        ("content-length and chunked", "POST /api/v1/tokens HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {token}\r\n"
                                       "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ],
)
async def test_other_parser_errors(site: Site, caplog: pytest.LogCaptureFixture, name: str, template: str) -> None:
    caplog.set_level(logging.DEBUG)
    token = await issue(site.gateway, "admin")
    caplog.clear()

    reply = await send_raw(site, template.format(token=token).encode())

    assert_gateway_error(reply, tls=site.ssl is not None)
    assert token.encode() not in reply.raw
    await asyncio.sleep(0.05)
    assert not [r for r in caplog.records if token in r.getMessage() or r.exc_info is not None]
    assert len([r for r in caplog.records if r.name == "gateway.http" and r.levelno == logging.WARNING]) == 1


async def test_a_flood_of_bad_requests_is_one_line_per_interval(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    """The line names only the client address and the kind of error, so the service's RepeatFilter folds
    a flood from one address; every request is still counted."""
    caplog.set_level(logging.WARNING, logger="gateway.http")
    token = await issue(site.gateway, "viewer")
    for _ in range(5):
        assert (await send_raw(site, bare_lf_request(token))).status == 400
    await asyncio.sleep(0.05)
    lines = [r for r in caplog.records if r.name == "gateway.http"]
    assert len(lines) == 5 and len({r.getMessage() for r in lines}) == 1
    repeat = RepeatFilter(interval_s=10.0, clock=lambda: 0.0)
    assert [repeat.filter(r) for r in lines] == [True, False, False, False, False]
    assert unparsed_count(site.gateway) == 5


async def test_guard_catches_a_leak(site: Site, secret_guard) -> None:  # type: ignore[no-untyped-def]
    """The suite-wide guard (tests/conftest.py) sees issued tokens in log lines and response bodies; token
    issuance's own answer is exempt."""
    token = await issue(site.gateway, "admin")
    logging.getLogger("gateway.test").debug("oops %s", token)
    assert secret_guard.take_leaks() == ["an issued token in a log record of 'gateway.test' (DEBUG)"]
    api = ApiClient(site.gateway.urls[0], ssl=site.ssl)
    try:
        issued = await api.request("POST", "/api/v1/tokens", token=token, json={"sub": "guard", "role": "viewer"})
        assert issued.status in (200, 201), issued.body
        assert secret_guard.take_leaks() == []
        new_token = issued.json()["token"]
        assert new_token in secret_guard.tokens  # issued through the API: recorded too
    finally:
        await api.close()
