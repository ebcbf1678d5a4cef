"""The live socket over real loopback sockets: first-message auth, validation, revocation, back-off, shutdown."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from gateway.factory import Gateway
from gateway.web.const import (
    CLOSE_BAD_MESSAGE,
    CLOSE_FORBIDDEN,
    CLOSE_GOING_AWAY,
    CLOSE_TOO_MANY,
    CLOSE_UNAUTHORIZED,
)
from tests.support.gateway import issue
from tests.support.live import RECEIVE_TIMEOUT_S, closed_with, live_url, next_json


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def test_signed_in_page_gets_hello_then_snapshots(gateway: Gateway, session: aiohttp.ClientSession) -> None:
    token = await issue(gateway, "technician", sub="tech-anna")
    async with session.ws_connect(live_url(gateway)) as ws:
        await ws.send_json({"type": "auth", "token": token})
        hello = await next_json(ws)
        assert hello["type"] == "hello" and hello["sub"] == "tech-anna" and hello["role"] == "technician"
        assert "extruder:control" in hello["permissions"] and "tokens:manage" not in hello["permissions"]
        first = await next_json(ws)
        second = await next_json(ws)
        assert first["type"] == second["type"] == "snapshot"
        assert first["status"]["gateway_id"] == gateway.config.gateway.id
        assert second["ts"] > first["ts"]
        assert second["status"]["uptime_s"] >= first["status"]["uptime_s"]
        await ws.send_json({"type": "ping"})
        for _ in range(3):
            message = await next_json(ws)
            if message["type"] == "pong":
                break
        assert message["type"] == "pong"


async def test_viewer_permissions_exclude_controls(gateway: Gateway, session: aiohttp.ClientSession) -> None:
    token = await issue(gateway, "viewer")
    async with session.ws_connect(live_url(gateway)) as ws:
        await ws.send_json({"type": "auth", "token": token})
        hello = await next_json(ws)
    assert "extruder:control" not in hello["permissions"] and "printers:command" not in hello["permissions"]


@pytest.mark.parametrize("token", ["not-a-jwt", "a.b.c", "x" * 4096])
async def test_bad_token_is_refused_and_audited(gateway: Gateway, session: aiohttp.ClientSession, token: str) -> None:
    async with session.ws_connect(live_url(gateway)) as ws:
        await ws.send_json({"type": "auth", "token": token})
        error = await next_json(ws)
        assert error == {"type": "error", "error": {"code": "unauthorized", "message": error["error"]["message"]}}
        assert token not in error["error"]["message"]
        assert await closed_with(ws) == CLOSE_UNAUTHORIZED
    entries = await gateway.context.audit.list(limit=5)
    assert any(e.action == "live.auth" and e.outcome == "refused" for e in entries)


async def test_sync_role_has_no_live_view(gateway: Gateway, session: aiohttp.ClientSession) -> None:
    token = await issue(gateway, "sync")
    async with session.ws_connect(live_url(gateway)) as ws:
        await ws.send_json({"type": "auth", "token": token})
        assert (await next_json(ws))["error"]["code"] == "forbidden"
        assert await closed_with(ws) == CLOSE_FORBIDDEN


@pytest.mark.parametrize(
    "send",
    [
        lambda ws: ws.send_str("not json"),
        lambda ws: ws.send_bytes(b"\x00\x01"),
        lambda ws: ws.send_json({"type": "ping"}),  # not signed in yet
        lambda ws: ws.send_json({"type": "auth"}),  # no token
        lambda ws: ws.send_json({"type": "auth", "token": "t", "extra": 1}),
        lambda ws: ws.send_json({"type": "subscribe", "topic": "all"}),
        lambda ws: ws.send_json(["auth", "token"]),
    ],
)
async def test_invalid_messages_close_with_a_reason(gateway: Gateway, session: aiohttp.ClientSession, send: Any) -> None:
    async with session.ws_connect(live_url(gateway)) as ws:
        await send(ws)
        error = await next_json(ws)
        assert error["type"] == "error" and error["error"]["code"] == "bad_message", error
        assert await closed_with(ws) == CLOSE_BAD_MESSAGE
    assert gateway.is_healthy()


async def test_oversized_message_closes_the_socket(gateway: Gateway, session: aiohttp.ClientSession) -> None:
    async with session.ws_connect(live_url(gateway)) as ws:
        await ws.send_str(json.dumps({"type": "auth", "token": "x" * 10_000}))
        code = None
        for _ in range(3):  # an error message may precede the close
            msg = await ws.receive(timeout=RECEIVE_TIMEOUT_S)
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                code = ws.close_code
                break
        assert code in (1009, CLOSE_BAD_MESSAGE)


async def test_message_after_sign_in_must_still_be_valid(gateway: Gateway, session: aiohttp.ClientSession) -> None:
    token = await issue(gateway, "viewer")
    async with session.ws_connect(live_url(gateway)) as ws:
        await ws.send_json({"type": "auth", "token": token})
        await next_json(ws)
        await ws.send_json({"type": "auth", "token": token})
        while (message := await next_json(ws))["type"] == "snapshot":
            pass
        assert message["error"]["code"] == "bad_message"
        assert await closed_with(ws) == CLOSE_BAD_MESSAGE


async def test_silent_socket_is_closed_after_the_auth_timeout(
    gateway: Gateway, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gateway.live, "_auth_timeout_s", 0.3)
    async with session.ws_connect(live_url(gateway)) as ws:
        assert (await next_json(ws))["error"]["code"] == "unauthorized"
        assert await closed_with(ws) == CLOSE_UNAUTHORIZED


async def test_revoked_token_loses_the_feed(gateway: Gateway, session: aiohttp.ClientSession) -> None:
    token = await issue(gateway, "technician")
    claims = gateway.context.tokens.verify(token)
    async with session.ws_connect(live_url(gateway)) as ws:
        await ws.send_json({"type": "auth", "token": token})
        assert (await next_json(ws))["type"] == "hello"
        await gateway.context.registry.revoke(claims.jti)
        await gateway.context.revocations.refresh(gateway.context.registry)
        while (message := await next_json(ws))["type"] == "snapshot":
            pass
        assert message["error"]["code"] == "unauthorized" and "revoked" in message["error"]["message"]
        assert await closed_with(ws) == CLOSE_UNAUTHORIZED


async def test_repeated_bad_tokens_hit_the_same_backoff_as_http(gateway: Gateway, session: aiohttp.ClientSession) -> None:
    limit = gateway.config.auth.backoff.limit
    codes = []
    for _ in range(limit + 1):
        async with session.ws_connect(live_url(gateway)) as ws:
            await ws.send_json({"type": "auth", "token": "bad.token.here"})
            codes.append((await next_json(ws))["error"])
            await closed_with(ws)
    assert [c["code"] for c in codes[:limit]] == ["unauthorized"] * limit
    assert codes[limit]["code"] == "too_many_failures" and codes[limit]["retry_after_s"] > 0
    async with session.get(gateway.urls[0] + "/api/v1/status", headers={"Authorization": "Bearer x.y.z"}) as resp:
        assert resp.status == 429  # the HTTP API sees the same block
    assert ws.close_code == CLOSE_TOO_MANY


async def test_shutdown_closes_open_sockets_promptly(gateway: Gateway, session: aiohttp.ClientSession) -> None:
    token = await issue(gateway, "viewer")
    ws = await session.ws_connect(live_url(gateway))
    await ws.send_json({"type": "auth", "token": token})
    assert (await next_json(ws))["type"] == "hello"
    loop = asyncio.get_running_loop()
    started = loop.time()
    stopping = asyncio.create_task(gateway.stop())
    while (msg := await ws.receive(timeout=RECEIVE_TIMEOUT_S)).type == aiohttp.WSMsgType.TEXT:
        pass  # a page keeps reading, as a browser does
    await stopping
    assert loop.time() - started < 3.0
    assert ws.close_code == CLOSE_GOING_AWAY
    await ws.close()
