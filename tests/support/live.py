"""Helpers for tests of the live WebSocket (`/api/v1/live`): its URL, the next JSON message, the close."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from gateway.factory import Gateway

RECEIVE_TIMEOUT_S = 5.0


def live_url(gateway: Gateway) -> str:
    return gateway.urls[0].replace("http://", "ws://") + "/api/v1/live"


async def next_json(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    msg = await ws.receive(timeout=RECEIVE_TIMEOUT_S)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    return json.loads(msg.data)  # type: ignore[no-any-return]


async def closed_with(ws: aiohttp.ClientWebSocketResponse) -> int | None:
    msg = await ws.receive(timeout=RECEIVE_TIMEOUT_S)
    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING), msg
    return ws.close_code
