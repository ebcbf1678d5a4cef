"""The live socket under attack, over real loopback sockets: floods without tokens, the pending caps,
failures counted for the back-off, memory released at close, deeply nested messages."""

from __future__ import annotations

import asyncio
import base64
import gc
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest

from gateway.factory import Gateway
from gateway.web.const import (
    CLOSE_BAD_MESSAGE,
    CLOSE_TOO_MANY,
    CLOSE_UNAUTHORIZED,
    LIVE_MAX_CLIENTS,
    LIVE_MAX_UNAUTHENTICATED,
    LIVE_MAX_UNAUTHENTICATED_PER_ADDRESS,
)
from tests.support.gateway import issue
from tests.support.live import RECEIVE_TIMEOUT_S, closed_with, live_url, next_json

FLOOD_ONE_ADDRESS_CONNECTS = 10_000
FLOOD_ROTATING_CONNECTS = 2_000
FLOOD_CONCURRENCY = 64  # connects in flight at once
FLOOD_TIME_LIMIT_S = 45.0  # both floods together, with the viewers' checks
RSS_GROWTH_LIMIT_BYTES = 30 * 1024 * 1024
SETTLE_TIMEOUT_S = 10.0  # for the gateway's socket handlers to finish after the flood
FLOODER = "127.0.0.20"
VIEWER = "127.0.0.21"


# --- helpers -----------------------------------------------------------------------------------------


def rss_bytes() -> int:
    gc.collect()
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def rotating_addresses(count: int) -> Iterable[str]:
    """127.0.0.x first, then 127.0.y.z: `count` distinct loopback source addresses (none of the fixed ones)."""
    produced = 0
    for y in range(256):
        for z in range(30 if y == 0 else 1, 255):
            if produced == count:
                return
            produced += 1
            yield f"127.0.{y}.{z}"


def masked_frame(opcode: int, payload: bytes) -> bytes:
    """A client frame (clients must mask; an all-zero mask leaves the payload as it is)."""
    assert len(payload) < 126
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + b"\0\0\0\0" + payload


CLOSE_FRAME_1000 = masked_frame(0x8, b"\x03\xe8")
BAD_TOKEN_FRAME = masked_frame(0x1, json.dumps({"type": "auth", "token": "not-a-token"}).encode())


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readexactly(2)
    length = head[1] & 0x7F
    if length == 126:
        length = int.from_bytes(await reader.readexactly(2), "big")
    elif length == 127:
        length = int.from_bytes(await reader.readexactly(8), "big")
    return head[0] & 0x0F, await reader.readexactly(length)


async def bare_connect(host: str, port: int, source: str, *, bad_token: bool = False) -> int | None:
    """An attacker's socket without a valid token; returns the gateway's close code (None: no close frame).

    Without `bad_token` it closes first, right after the upgrade. With it, it sends a bad token and, as
    browsers do, answers the gateway's close frame (a frame arriving after the gateway closed is what
    re-armed aiohttp's heartbeat timer on the closed socket)."""
    reader, writer = await asyncio.open_connection(host, port, local_addr=(source, 0))
    try:
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET /api/v1/live HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
            + (BAD_TOKEN_FRAME if bad_token else CLOSE_FRAME_1000)
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), RECEIVE_TIMEOUT_S)
        assert head.startswith(b"HTTP/1.1 101"), head[:60]
        close_code = None
        async with asyncio.timeout(RECEIVE_TIMEOUT_S):
            while True:
                try:
                    opcode, payload = await read_frame(reader)
                except asyncio.IncompleteReadError:
                    break  # the gateway dropped the connection
                if opcode == 0x8:
                    close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
                    if bad_token:
                        writer.write(CLOSE_FRAME_1000)
                    await reader.read()
                    break
        return close_code
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except ConnectionError:
            pass


async def flood(gateway: Gateway, sources: Iterable[str], concurrency: int = FLOOD_CONCURRENCY) -> int:
    """Opens and closes a socket from each source, `concurrency` at a time; returns how many completed."""
    parts = urlsplit(gateway.urls[0])
    host, port = parts.hostname, parts.port
    assert host and port
    queue = iter(sources)
    done = 0

    async def worker() -> None:
        nonlocal done
        for source in queue:
            await bare_connect(host, port, source, bad_token=done % 2 == 0)
            done += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done


@pytest.fixture
async def viewer_token(gateway: Gateway) -> str:
    return await issue(gateway, "viewer", sub="viewer-vera")


class Viewer:
    """A page from one source address."""

    def __init__(self, gateway: Gateway, source: str) -> None:
        self.url = live_url(gateway)
        connector = aiohttp.TCPConnector(local_addr=(source, 0))
        self.session = aiohttp.ClientSession(connector=connector)

    async def open(self) -> aiohttp.ClientWebSocketResponse:
        return await self.session.ws_connect(self.url)

    async def sign_in(self, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Connect, authenticate, and return (hello, first snapshot); the socket is closed after."""
        async with self.session.ws_connect(self.url) as ws:
            await ws.send_json({"type": "auth", "token": token})
            hello = await next_json(ws)
            snapshot = await next_json(ws) if hello["type"] == "hello" else {}
        return hello, snapshot

    async def close(self) -> None:
        await self.session.close()


@pytest.fixture
async def viewers(gateway: Gateway) -> AsyncIterator[Any]:
    opened: list[Viewer] = []

    def make(source: str) -> Viewer:
        viewer = Viewer(gateway, source)
        opened.append(viewer)
        return viewer

    try:
        yield make
    finally:
        for viewer in opened:
            await viewer.close()


async def settle(gateway: Gateway, handlers: int = 0) -> None:
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while gateway.live.handlers > handlers:
        assert time.monotonic() < deadline, f"{gateway.live.handlers} live handlers still running"
        await asyncio.sleep(0.05)


# --- floods --------------------------------------------------------------------------------------------
async def test_floods_without_tokens_neither_lock_out_a_viewer_nor_grow_memory(
    gateway: Gateway, viewer_token: str, viewers: Any, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)  # the harness keeps every captured record: not the gateway's memory
    hub = gateway.live
    viewer = viewers(VIEWER)
    # warm up every code path once (first connects allocate caches, pools, the audit statements)
    assert await flood(gateway, [FLOODER, "127.0.0.22"] * 20, concurrency=4) == 40
    assert (await viewer.sign_in(viewer_token))[0]["type"] == "hello"
    await settle(gateway)
    gateway.context.failed_auth.prune()
    base_rss = rss_bytes()

    peak = {"pending": 0, "per_address": 0}

    async def watch() -> None:
        while True:
            peak["pending"] = max(peak["pending"], hub.unauthenticated)
            peak["per_address"] = max(peak["per_address"], hub.unauthenticated_from(FLOODER))
            await asyncio.sleep(0.01)

    async def view_during(flooding: asyncio.Task[int]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        seen = []
        while not flooding.done():
            seen.append(await viewer.sign_in(viewer_token))
            await asyncio.sleep(0.5)
        return seen

    watcher = asyncio.create_task(watch())
    started = time.monotonic()
    try:
        one = asyncio.create_task(flood(gateway, [FLOODER] * FLOOD_ONE_ADDRESS_CONNECTS))
        seen_one = await view_during(one)
        one_s = time.monotonic() - started
        rotating = asyncio.create_task(flood(gateway, rotating_addresses(FLOOD_ROTATING_CONNECTS)))
        seen_rotating = await view_during(rotating)
        total_s = time.monotonic() - started
    finally:
        watcher.cancel()
    assert one.result() == FLOOD_ONE_ADDRESS_CONNECTS and rotating.result() == FLOOD_ROTATING_CONNECTS
    assert total_s < FLOOD_TIME_LIMIT_S

    # a valid viewer got in during both floods, every time it tried, and got its snapshot
    for hello, snapshot in seen_one + seen_rotating:
        assert hello["type"] == "hello" and hello["sub"] == "viewer-vera", hello
        assert snapshot["type"] == "snapshot" and snapshot["status"]["gateway_id"] == gateway.config.gateway.id
    assert seen_one and seen_rotating
    # the caps held throughout
    assert peak["pending"] <= LIVE_MAX_UNAUTHENTICATED
    assert peak["per_address"] <= LIVE_MAX_UNAUTHENTICATED_PER_ADDRESS
    # the flooding address is in back-off; a valid token from it is still served
    assert gateway.context.failed_auth.retry_after(FLOODER) > 0
    flooder_page = viewers(FLOODER)
    assert (await flooder_page.sign_in(viewer_token))[0]["type"] == "hello"
    async with flooder_page.session.ws_connect(flooder_page.url) as ws:
        await ws.send_json({"type": "auth", "token": "not.a.token"})
        refused = await next_json(ws)
        assert refused["error"]["code"] == "too_many_failures" and refused["error"]["retry_after_s"] > 0
        assert await closed_with(ws) == CLOSE_TOO_MANY

    # memory: every handler finished, nothing retained per connect
    await settle(gateway)
    assert hub.unauthenticated == 0 and hub.clients == 0
    growth = rss_bytes() - base_rss
    with capsys.disabled():
        print(f"\nlive flood: {FLOOD_ONE_ADDRESS_CONNECTS} connects from one address in {one_s:.1f} s, "
              f"{FLOOD_ROTATING_CONNECTS} from rotating addresses in {total_s - one_s:.1f} s; "
              f"viewer sign-ins during the floods: {len(seen_one)} + {len(seen_rotating)}; "
              f"peak pending {peak['pending']} (from the flooder {peak['per_address']}); "
              f"RSS growth {growth / 1024 / 1024:.1f} MB")
    assert growth < RSS_GROWTH_LIMIT_BYTES, f"RSS grew {growth / 1024 / 1024:.1f} MB"


# --- caps -----------------------------------------------------------------------------------------------
async def test_pending_cap_per_address_refuses_and_counts(gateway: Gateway, viewers: Any, viewer_token: str) -> None:
    page = viewers("127.0.0.40")
    hub = gateway.live
    held = [await page.open() for _ in range(LIVE_MAX_UNAUTHENTICATED_PER_ADDRESS)]
    try:
        await wait_for(lambda: hub.unauthenticated_from("127.0.0.40") == LIVE_MAX_UNAUTHENTICATED_PER_ADDRESS)
        async with page.session.ws_connect(page.url) as extra:
            error = await next_json(extra)
            assert error["error"]["code"] == "too_many_unauthenticated", error
            assert await closed_with(extra) == CLOSE_TOO_MANY
        assert hub.unauthenticated_from("127.0.0.40") == LIVE_MAX_UNAUTHENTICATED_PER_ADDRESS
        # another address is not affected, and the held sockets may still sign in
        assert (await viewers("127.0.0.41").sign_in(viewer_token))[0]["type"] == "hello"
        await held[0].send_json({"type": "auth", "token": viewer_token})
        assert (await next_json(held[0]))["type"] == "hello"
    finally:
        for ws in held:
            await ws.close()
    entries = await gateway.context.audit.list(limit=20)
    assert any(e.details.get("refusal") == "too_many_unauthenticated" and e.client == "127.0.0.40" for e in entries)


async def test_pending_cap_overall_evicts_the_oldest_and_leaves_the_signed_in_cap_alone(
    gateway: Gateway, viewers: Any, viewer_token: str
) -> None:
    hub = gateway.live
    sources = list(rotating_addresses(LIVE_MAX_UNAUTHENTICATED + 1))
    held = [await viewers(source).open() for source in sources[:LIVE_MAX_UNAUTHENTICATED]]
    signed_in: list[aiohttp.ClientWebSocketResponse] = []
    try:
        await wait_for(lambda: hub.unauthenticated == LIVE_MAX_UNAUTHENTICATED)
        # one more: the oldest pending socket is closed to make room, the cap holds
        newest = await viewers(sources[-1]).open()
        held.append(newest)
        error = await next_json(held[0])
        assert error["error"]["code"] == "too_many_unauthenticated", error
        assert await closed_with(held[0]) == CLOSE_TOO_MANY
        assert hub.unauthenticated == LIVE_MAX_UNAUTHENTICATED
        # the pending sockets take no signed-in slot: a full house of viewers still signs in
        for n in range(LIVE_MAX_CLIENTS):
            ws = await viewers(f"127.0.1.{n + 1}").open()
            signed_in.append(ws)
            await ws.send_json({"type": "auth", "token": viewer_token})
            assert (await next_json(ws))["type"] == "hello", n
        assert hub.clients == LIVE_MAX_CLIENTS
        # and the signed-in cap still holds for the next one
        async with viewers("127.0.2.1").session.ws_connect(live_url(gateway)) as extra:
            await extra.send_json({"type": "auth", "token": viewer_token})
            assert (await next_json(extra))["error"]["code"] == "too_many_clients"
            assert await closed_with(extra) == CLOSE_TOO_MANY
        assert hub.unauthenticated <= LIVE_MAX_UNAUTHENTICATED
    finally:
        for ws in held + signed_in:
            await ws.close()
    await settle(gateway)


# --- failures for the back-off --------------------------------------------------------------------------
async def test_auth_timeouts_put_the_address_in_back_off(
    gateway: Gateway, viewers: Any, viewer_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gateway.live, "_auth_timeout_s", 0.2)
    page = viewers("127.0.0.50")
    limit = gateway.config.auth.backoff.limit
    codes = []
    for _ in range(limit + 1):
        async with page.session.ws_connect(page.url) as ws:
            codes.append((await next_json(ws))["error"]["code"])
            await closed_with(ws)
    assert codes == ["unauthorized"] * limit + ["too_many_failures"]
    assert gateway.context.failed_auth.retry_after("127.0.0.50") > 0
    assert (await page.sign_in(viewer_token))[0]["type"] == "hello"  # a valid token is still served


@pytest.mark.parametrize("first", ["not json", json.dumps({"type": "ping"}), "[" * 2048 + "]" * 2048])
async def test_bad_first_messages_count_as_failures(gateway: Gateway, viewers: Any, first: str) -> None:
    page = viewers("127.0.0.51")
    for _ in range(gateway.config.auth.backoff.limit):
        async with page.session.ws_connect(page.url) as ws:
            await ws.send_str(first)
            assert (await next_json(ws))["error"]["code"] == "bad_message"
            assert await closed_with(ws) == CLOSE_BAD_MESSAGE
    assert gateway.context.failed_auth.retry_after("127.0.0.51") > 0


async def test_closing_before_signing_in_counts_as_a_failure(gateway: Gateway) -> None:
    limit = gateway.config.auth.backoff.limit
    parts = urlsplit(gateway.urls[0])
    assert parts.hostname and parts.port
    for _ in range(limit):
        await bare_connect(parts.hostname, parts.port, "127.0.0.52")
    await settle(gateway)
    assert gateway.context.failed_auth.retry_after("127.0.0.52") > 0


# --- nested messages ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "first",
    [
        "[" * 2048 + "]" * 2048,  # the 4 KB nested array of the issue
        "[" * 4096,  # unterminated
        '{"a":' * 600 + "1" + "}" * 600,
        json.dumps({"type": "auth", "token": [[[[[[[[[[[[[[[[[["x"]]]]]]]]]]]]]]]]]]}),
    ],
)
async def test_deeply_nested_first_message_closes_with_a_reason(
    gateway: Gateway, viewers: Any, caplog: pytest.LogCaptureFixture, first: str
) -> None:
    caplog.set_level(logging.DEBUG)
    page = viewers("127.0.0.60")
    assert len(first.encode()) <= 4096 + 256
    async with page.session.ws_connect(page.url) as ws:
        await ws.send_str(first)
        error = await next_json(ws)
        assert error["type"] == "error" and error["error"]["code"] == "bad_message", error
        assert "nested deeper" in error["error"]["message"] or "JSON" in error["error"]["message"]
        assert await closed_with(ws) == CLOSE_BAD_MESSAGE
    await settle(gateway)
    assert gateway.is_healthy()
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert "RecursionError" not in caplog.text and "Traceback" not in caplog.text


async def test_brackets_inside_strings_do_not_count_as_nesting(gateway: Gateway, viewers: Any) -> None:
    page = viewers("127.0.0.61")
    async with page.session.ws_connect(page.url) as ws:
        await ws.send_str(json.dumps({"type": "auth", "token": "[" * 3000 + '\\"{'}))
        error = await next_json(ws)
        assert error["error"]["code"] == "unauthorized", error  # parsed, then refused as a token
        assert await closed_with(ws) == CLOSE_UNAUTHORIZED


async def wait_for(condition: Any, timeout_s: float = RECEIVE_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


# --- our own heartbeat (aiohttp's is off) ---------------------------------------------------------------
@pytest.mark.parametrize("answers_pings", [True, False])
async def test_signed_in_page_that_stops_answering_pings_is_closed(
    gateway: Gateway, viewer_token: str, monkeypatch: pytest.MonkeyPatch, answers_pings: bool
) -> None:
    monkeypatch.setattr(gateway.live, "_heartbeat_s", 0.3)
    monkeypatch.setattr(gateway.live, "_pong_timeout_s", 0.3)
    async with aiohttp.ClientSession() as session, session.ws_connect(live_url(gateway), autoping=answers_pings) as ws:
        await ws.send_json({"type": "auth", "token": viewer_token})
        assert (await next_json(ws))["type"] == "hello"
        pings = 0
        deadline = time.monotonic() + 3.5
        while time.monotonic() < deadline:
            msg = await ws.receive(timeout=RECEIVE_TIMEOUT_S)
            if msg.type == aiohttp.WSMsgType.PING:
                pings += 1
            elif msg.type != aiohttp.WSMsgType.TEXT:
                break
        if answers_pings:
            assert not ws.closed and gateway.live.clients == 1
        else:
            assert pings >= 1 and ws.closed and ws.close_code == 1001
