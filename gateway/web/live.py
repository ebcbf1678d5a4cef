"""The live socket of the technician page: authenticate in the first message, then a snapshot a second.

The token never travels in the URL: the page opens `/api/v1/live` and sends `{"type": "auth",
"token": ...}` first. Authentication shares the HTTP path's rules (back-off per address, revocation,
audit of refusals). After that the server pushes `{"type": "snapshot", ...}` every
`LIVE_PUSH_INTERVAL_S` and re-checks the token each time, so a revoked or expired token loses the
feed within a second. Anything a page sends that is not a valid message closes its socket with a
reason; nothing a page sends can raise in the server.

Resources under attack:

* a socket that has not signed in yet is *pending* (`gateway.web.admission`): capped per address and
  overall, apart from the signed-in cap, so a flood without tokens cannot lock a valid viewer out;
* every way a pending socket ends without signing in (bad token, bad first message, the auth timeout,
  closing before signing in, refused or evicted over the pending caps) is a failed authentication for
  its address's back-off, through the same `authenticate` as the HTTP path (which still serves a valid
  token from an address in back-off);
* no aiohttp heartbeat: its timer was re-armed by frames arriving after close and kept each closed
  response alive for 30 s or more. Signed-in sockets get our own ping (`LIVE_HEARTBEAT_S`), which lives
  in the serving loop and ends with it; pending sockets need none (they are closed within the timeout);
* messages are decoded with a nesting limit (`LIVE_MAX_JSON_DEPTH`), so no message reaches the
  recursive JSON parser deeper than that.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from typing import Any

from aiohttp import WSMsgType, web
from pydantic import ValidationError

from gateway.api.context import ApiContext
from gateway.audit.model import AuditEvent
from gateway.auth.errors import AuthError, AuthReason
from gateway.auth.roles import ROLE_PERMISSIONS
from gateway.http.authenticate import authenticate, verified_claims
from gateway.http.errors import ApiError
from gateway.http.keys import CONTEXT, AuditNote, Principal
from gateway.http.middlewares.auth import client_address
from gateway.web.admission import Pending, PendingSockets
from gateway.web.const import (
    CLOSE_BAD_MESSAGE,
    CLOSE_FORBIDDEN,
    CLOSE_GOING_AWAY,
    CLOSE_TOO_MANY,
    CLOSE_UNAUTHORIZED,
    LIVE_AUTH_TIMEOUT_S,
    LIVE_CLOSE_HANDSHAKE_S,
    LIVE_CLOSE_TIMEOUT_S,
    LIVE_HEARTBEAT_S,
    LIVE_MAX_CLIENTS,
    LIVE_MAX_JSON_DEPTH,
    LIVE_MAX_MESSAGE_BYTES,
    LIVE_MAX_UNAUTHENTICATED,
    LIVE_MAX_UNAUTHENTICATED_PER_ADDRESS,
    LIVE_PONG_TIMEOUT_S,
    LIVE_PUSH_INTERVAL_S,
    LIVE_SEND_TIMEOUT_S,
)
from gateway.web.decode import JsonRefused, loads_limited
from gateway.web.feed import LiveFeed
from gateway.web.messages import CLIENT_MESSAGE, AuthMessage, PingMessage

log = logging.getLogger(__name__)

LIVE_ROLES_REFUSED = frozenset({"sync"})
"""The cloud connector's role reads telemetry only; it gets no live view of the site."""


class BadMessage(Exception):
    """A page sent something that is not a valid live message."""


class _Peer:
    """One open socket and when a frame (of any kind, pongs included) was last heard from it."""

    __slots__ = ("heard_at", "ws")

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.heard_at = asyncio.get_running_loop().time()


class LiveHub:
    """Serves the live sockets and closes them all at shutdown."""

    def __init__(self, feed: LiveFeed, *, push_interval_s: float = LIVE_PUSH_INTERVAL_S,
                 auth_timeout_s: float = LIVE_AUTH_TIMEOUT_S, max_clients: int = LIVE_MAX_CLIENTS,
                 max_unauthenticated_per_address: int = LIVE_MAX_UNAUTHENTICATED_PER_ADDRESS,
                 max_unauthenticated: int = LIVE_MAX_UNAUTHENTICATED,
                 heartbeat_s: float = LIVE_HEARTBEAT_S, pong_timeout_s: float = LIVE_PONG_TIMEOUT_S) -> None:
        self._feed = feed
        self._push_interval_s = push_interval_s
        self._auth_timeout_s = auth_timeout_s
        self._max_clients = max_clients
        self._heartbeat_s = heartbeat_s
        self._pong_timeout_s = pong_timeout_s
        self._sockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()  # signed in
        self._pending = PendingSockets(per_address=max_unauthenticated_per_address, total=max_unauthenticated)
        self._handlers: set[asyncio.Task[Any]] = set()
        self._closing = asyncio.Event()

    @property
    def clients(self) -> int:
        """Signed-in sockets."""
        return len(self._sockets)

    @property
    def unauthenticated(self) -> int:
        """Sockets open and not signed in yet."""
        return len(self._pending)

    def unauthenticated_from(self, address: str) -> int:
        return self._pending.at_address(address)

    @property
    def handlers(self) -> int:
        """Socket handlers still running (signed in, pending, or being closed)."""
        return len(self._handlers)

    async def close_all(self) -> None:
        """Tell every open page the gateway is going away, and wait (briefly) for them to be closed."""
        self._closing.set()
        self._pending.evict_all("stopping")
        if self._handlers:
            await asyncio.wait(set(self._handlers), timeout=LIVE_CLOSE_TIMEOUT_S)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        # No aiohttp heartbeat (see the module docstring); pings and pongs are handled in `_receive`.
        ws = web.WebSocketResponse(heartbeat=None, autoping=False, max_msg_size=LIVE_MAX_MESSAGE_BYTES,
                                   timeout=LIVE_CLOSE_HANDSHAKE_S)
        await ws.prepare(request)
        handler_task = asyncio.current_task()
        assert handler_task is not None
        self._handlers.add(handler_task)
        peer = _Peer(ws)
        try:
            await self._handle(request, peer)
        except BadMessage as exc:
            await _refuse(ws, CLOSE_BAD_MESSAGE, "bad_message", str(exc))
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self._sockets.discard(ws)
            self._handlers.discard(handler_task)
            if not ws.closed:
                await _close(ws)
        return ws

    async def _handle(self, request: web.Request, peer: _Peer) -> None:
        ws = peer.ws
        if self._closing.is_set():
            await _close(ws, CLOSE_GOING_AWAY, "gateway stopping")
            return
        context = request.app[CONTEXT]
        address = client_address(request)
        pending, evicted = self._pending.admit(address)
        if pending is None:
            await _refuse_unauthenticated(
                ws, context, address, "missing", "too_many_unauthenticated", CLOSE_TOO_MANY,
                "too_many_unauthenticated", "too many live views from this address are waiting to sign in")
            return
        if evicted is not None:
            log.debug("pending live socket from %s evicted by one from %s", evicted.address, address)
        session = await self._sign_in(ws, peer, context, address, pending)
        if session is None:
            return
        principal, token = session
        if len(self._sockets) >= self._max_clients:
            await _refuse(ws, CLOSE_TOO_MANY, "too_many_clients", "too many live views are open; close one and retry")
            return
        self._sockets.add(ws)
        permissions = sorted(str(p) for p in ROLE_PERMISSIONS.get(principal.role, ()))
        await _send(ws, {"type": "hello", "sub": principal.sub, "role": principal.role, "permissions": permissions})
        await self._serve(peer, context, principal, token)

    # --- steps ------------------------------------------------------------------------------------
    async def _sign_in(self, ws: web.WebSocketResponse, peer: _Peer, context: ApiContext, address: str,
                       pending: Pending) -> tuple[Principal, str] | None:
        """The principal and token of a valid first message; None when the socket was refused or closed."""
        waiter = asyncio.ensure_future(_receive(peer))
        pending.waiting_on(waiter)
        try:
            message = await asyncio.wait_for(waiter, self._auth_timeout_s)
        except TimeoutError:
            await _refuse_unauthenticated(ws, context, address, "missing", "auth_timeout", CLOSE_UNAUTHORIZED,
                                          "unauthorized", f"sign in within {self._auth_timeout_s:g} seconds of connecting")
            return None
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if pending.evicted is None or (current is not None and current.cancelling()):
                raise  # the handler itself is being cancelled
            if pending.evicted == "stopping":
                await _close(ws, CLOSE_GOING_AWAY, "gateway stopping")
            else:
                await _refuse_unauthenticated(
                    ws, context, address, "missing", "evicted", CLOSE_TOO_MANY, "too_many_unauthenticated",
                    "too many live views are waiting to sign in; sign in as soon as the socket opens")
            return None
        except BadMessage as exc:
            await _refuse_unauthenticated(ws, context, address, "malformed", "bad_message", CLOSE_BAD_MESSAGE,
                                          "bad_message", str(exc))
            return None
        finally:
            self._pending.release(pending)
        if message is None:  # closed by the page before it signed in: an abandoned attempt counts too
            await _count_failure(context, address, "missing", "closed_before_auth")
            return None
        if not isinstance(message, AuthMessage):
            await _refuse_unauthenticated(ws, context, address, "malformed", "bad_message", CLOSE_BAD_MESSAGE,
                                          "bad_message", "the first message must be {\"type\": \"auth\", \"token\": ...}")
            return None
        note = AuditNote()
        try:
            principal = authenticate(context, address, message.token, note)
        except ApiError as error:
            if not note.skip:
                await _audit(context, "live.auth", "refused", None, address, note.details)
            code = CLOSE_TOO_MANY if error.status == 429 else CLOSE_UNAUTHORIZED
            await _refuse(ws, code, error.code, error.message, retry_after=error.headers.get("Retry-After"))
            return None
        if principal.role in LIVE_ROLES_REFUSED:
            await _audit(context, "live.auth", "refused", principal, address, {"reason": "role"})
            await _refuse(ws, CLOSE_FORBIDDEN, "forbidden", f"role '{principal.role}' has no live view")
            return None
        return principal, message.token

    async def _serve(self, peer: _Peer, context: ApiContext, principal: Principal, token: str) -> None:
        ws = peer.ws
        loop = asyncio.get_running_loop()
        reader = asyncio.ensure_future(self._read(peer))
        closing = asyncio.ensure_future(self._closing.wait())
        pinged_at: float | None = None
        try:
            while not ws.closed:
                if not _still_valid(context, token):
                    await _refuse(ws, CLOSE_UNAUTHORIZED, "unauthorized", "your token expired or was revoked; sign in again")
                    return
                await _send(ws, {"type": "snapshot", "ts": time.time(), **self._feed.snapshot()})
                # our own heartbeat: ping after a quiet spell, give up when the ping goes unanswered
                now = loop.time()
                if pinged_at is not None and pinged_at < peer.heard_at:
                    pinged_at = None  # answered
                if pinged_at is not None and now - pinged_at >= self._pong_timeout_s:
                    await _close(ws, CLOSE_GOING_AWAY, "no answer to ping")
                    return
                if pinged_at is None and now - peer.heard_at >= self._heartbeat_s:
                    pinged_at = now
                    await asyncio.wait_for(ws.ping(), LIVE_SEND_TIMEOUT_S)
                done, _ = await asyncio.wait({reader, closing}, timeout=self._push_interval_s,
                                             return_when=asyncio.FIRST_COMPLETED)
                if reader in done:
                    reader.result()  # re-raises BadMessage
                    return
                if closing in done:
                    await _close(ws, CLOSE_GOING_AWAY, "gateway stopping")
                    return
        except TimeoutError:  # the page stopped reading: drop it
            await _close(ws, CLOSE_GOING_AWAY, "not reading")
        finally:
            reader.cancel()
            closing.cancel()

    async def _read(self, peer: _Peer) -> None:
        """Answer pings until the page goes away; raises BadMessage for anything else."""
        while True:
            message = await _receive(peer)
            if message is None:
                return
            if isinstance(message, PingMessage):
                await _send(peer.ws, {"type": "pong", "ts": time.time()})
            else:
                raise BadMessage("already signed in")


async def _receive(peer: _Peer) -> AuthMessage | PingMessage | None:
    """The next valid message, or None when the socket closed. Raises BadMessage.

    Answers WebSocket pings itself (autoping is off) and notes every frame heard, pongs included.
    """
    ws = peer.ws
    loop = asyncio.get_running_loop()
    while True:
        msg = await ws.receive()
        peer.heard_at = loop.time()
        if msg.type == WSMsgType.PING:
            await asyncio.wait_for(ws.pong(msg.data), LIVE_SEND_TIMEOUT_S)
            continue
        if msg.type == WSMsgType.PONG:
            continue
        break
    if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
        return None
    if msg.type == WSMsgType.ERROR:
        # aiohttp reports an oversized frame this way (and closes with 1009 itself)
        raise BadMessage(f"message refused: {ws.exception() or 'protocol error'}")
    if msg.type != WSMsgType.TEXT:
        raise BadMessage("messages must be JSON text")
    try:
        data = loads_limited(msg.data, LIVE_MAX_JSON_DEPTH)
    except JsonRefused as exc:
        raise BadMessage(str(exc)) from None
    try:
        return CLIENT_MESSAGE.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "message"
        raise BadMessage(f"{where}: {first['msg']}") from None


def _still_valid(context: ApiContext, token: str) -> bool:
    try:
        verified_claims(context, token)
    except AuthError:
        return False
    return True


async def _count_failure(context: ApiContext, address: str, reason: AuthReason, refusal: str) -> ApiError:
    """Count a socket that ended without signing in as a failed authentication of `address`, through
    the HTTP path's `authenticate` (metrics, back-off, audit once per block while blocked); returns the
    error that path answers (401, or 429 with Retry-After while the address is in back-off)."""
    note = AuditNote()
    try:
        authenticate(context, address, AuthError(reason), note)
    except ApiError as error:
        if not note.skip:
            await _audit(context, "live.auth", "refused", None, address, {**note.details, "refusal": refusal})
        return error
    raise AssertionError("authenticate accepted a refused credential")  # pragma: no cover


async def _refuse_unauthenticated(ws: web.WebSocketResponse, context: ApiContext, address: str, reason: AuthReason,
                                  refusal: str, close_code: int, code: str, message: str) -> None:
    """Refuse a socket that has not signed in, counting the refusal as a failed authentication."""
    error = await _count_failure(context, address, reason, refusal)
    retry_after = error.headers.get("Retry-After") if error.status == 429 else None
    if retry_after is not None and code == "unauthorized":
        close_code, code, message = CLOSE_TOO_MANY, error.code, error.message
    await _refuse(ws, close_code, code, message, retry_after=retry_after)


async def _send(ws: web.WebSocketResponse, data: dict[str, Any]) -> None:
    """Send one message; raises TimeoutError when the page does not take it in time."""
    await asyncio.wait_for(ws.send_json(data), LIVE_SEND_TIMEOUT_S)


async def _close(ws: web.WebSocketResponse, close_code: int = 1000, reason: str = "") -> None:
    """Close with a code and reason; a page that does not answer in time has its connection dropped."""
    if ws.closed:
        return
    try:
        await asyncio.wait_for(ws.close(code=close_code, message=reason.encode()), LIVE_CLOSE_HANDSHAKE_S)
    except (TimeoutError, ConnectionError):
        pass  # aiohttp has closed the transport


async def _refuse(ws: web.WebSocketResponse, close_code: int, code: str, message: str,
                  retry_after: str | None = None) -> None:
    error: dict[str, Any] = {"code": code, "message": message}
    if retry_after is not None:
        error["retry_after_s"] = int(retry_after)
    if not ws.closed:
        try:
            await _send(ws, {"type": "error", "error": error})
        except (TimeoutError, ConnectionError):
            pass
        await _close(ws, close_code, code)


async def _audit(context: ApiContext, action: str, outcome: str, principal: Principal | None, address: str,
                 details: dict[str, Any]) -> None:
    event = AuditEvent(action=action, outcome=outcome, actor=principal.sub if principal else None,
                       jti=principal.jti if principal else None, client=address, target=None,
                       details={k: v for k, v in details.items() if v is not None})
    try:
        await context.audit.append(event)
    except Exception:
        log.exception("audit entry could not be written for %s", action)
