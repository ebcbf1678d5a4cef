"""The live socket of the technician page: authenticate in the first message, then a snapshot a second.

The token never travels in the URL: the page opens `/api/v1/live` and sends `{"type": "auth",
"token": ...}` first. Authentication shares the HTTP path's rules (back-off per address, revocation,
audit of refusals). After that the server pushes `{"type": "snapshot", ...}` every
`LIVE_PUSH_INTERVAL_S` and re-checks the token each time, so a revoked or expired token loses the
feed within a second. Anything a page sends that is not a valid message closes its socket with a
reason; nothing a page sends can raise in the server.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref
from typing import Any

from aiohttp import WSMsgType, web
from pydantic import ValidationError

from gateway.api.context import ApiContext
from gateway.audit.model import AuditEvent
from gateway.auth.errors import AuthError
from gateway.auth.roles import ROLE_PERMISSIONS
from gateway.http.authenticate import authenticate, verified_claims
from gateway.http.errors import ApiError
from gateway.http.keys import CONTEXT, AuditNote, Principal
from gateway.http.middlewares.auth import client_address
from gateway.web.const import (
    CLOSE_BAD_MESSAGE,
    CLOSE_FORBIDDEN,
    CLOSE_GOING_AWAY,
    CLOSE_TOO_MANY,
    CLOSE_UNAUTHORIZED,
    LIVE_AUTH_TIMEOUT_S,
    LIVE_CLOSE_TIMEOUT_S,
    LIVE_HEARTBEAT_S,
    LIVE_MAX_CLIENTS,
    LIVE_MAX_MESSAGE_BYTES,
    LIVE_PUSH_INTERVAL_S,
)
from gateway.web.feed import LiveFeed
from gateway.web.messages import CLIENT_MESSAGE, AuthMessage, PingMessage

log = logging.getLogger(__name__)

LIVE_ROLES_REFUSED = frozenset({"sync"})
"""The cloud connector's role reads telemetry only; it gets no live view of the site."""


class BadMessage(Exception):
    """A page sent something that is not a valid live message."""


class LiveHub:
    """Serves the live sockets and closes them all at shutdown."""

    def __init__(self, feed: LiveFeed, *, push_interval_s: float = LIVE_PUSH_INTERVAL_S,
                 auth_timeout_s: float = LIVE_AUTH_TIMEOUT_S, max_clients: int = LIVE_MAX_CLIENTS) -> None:
        self._feed = feed
        self._push_interval_s = push_interval_s
        self._auth_timeout_s = auth_timeout_s
        self._max_clients = max_clients
        self._sockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()
        self._handlers: set[asyncio.Task[Any]] = set()
        self._closing = asyncio.Event()

    @property
    def clients(self) -> int:
        return len(self._sockets)

    async def close_all(self) -> None:
        """Tell every open page the gateway is going away, and wait (briefly) for them to be closed."""
        self._closing.set()
        if self._handlers:
            await asyncio.wait(set(self._handlers), timeout=LIVE_CLOSE_TIMEOUT_S)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=LIVE_HEARTBEAT_S, max_msg_size=LIVE_MAX_MESSAGE_BYTES)
        await ws.prepare(request)
        if self._closing.is_set():
            await ws.close(code=CLOSE_GOING_AWAY, message=b"gateway stopping")
            return ws
        if len(self._sockets) >= self._max_clients:
            await _refuse(ws, CLOSE_TOO_MANY, "too_many_clients", "too many live views are open; close one and retry")
            return ws
        self._sockets.add(ws)
        handler_task = asyncio.current_task()
        assert handler_task is not None
        self._handlers.add(handler_task)
        context = request.app[CONTEXT]
        address = client_address(request)
        try:
            session = await self._sign_in(ws, context, address)
            if session is not None:
                await self._serve(ws, context, *session)
        except BadMessage as exc:
            await _refuse(ws, CLOSE_BAD_MESSAGE, "bad_message", str(exc))
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self._sockets.discard(ws)
            self._handlers.discard(handler_task)
            if not ws.closed:
                await ws.close()
        return ws

    # --- steps ------------------------------------------------------------------------------------
    async def _sign_in(self, ws: web.WebSocketResponse, context: ApiContext,
                       address: str) -> tuple[Principal, str] | None:
        try:
            message = await _receive(ws, self._auth_timeout_s)
        except asyncio.TimeoutError:
            await _refuse(ws, CLOSE_UNAUTHORIZED, "unauthorized", "sign in within 5 seconds of connecting")
            return None
        if message is None:
            return None
        if not isinstance(message, AuthMessage):
            raise BadMessage("the first message must be {\"type\": \"auth\", \"token\": ...}")
        note = AuditNote()
        try:
            principal = authenticate(context, address, message.token, note)
        except ApiError as error:
            if not note.skip:
                await _audit(context, "live.auth", "refused", None, address, {"reason": note.details.get("reason")})
            code = CLOSE_TOO_MANY if error.status == 429 else CLOSE_UNAUTHORIZED
            await _refuse(ws, code, error.code, error.message, retry_after=error.headers.get("Retry-After"))
            return None
        if principal.role in LIVE_ROLES_REFUSED:
            await _audit(context, "live.auth", "refused", principal, address, {"reason": "role"})
            await _refuse(ws, CLOSE_FORBIDDEN, "forbidden", f"role '{principal.role}' has no live view")
            return None
        permissions = sorted(str(p) for p in ROLE_PERMISSIONS.get(principal.role, ()))
        await ws.send_json({"type": "hello", "sub": principal.sub, "role": principal.role, "permissions": permissions})
        return principal, message.token

    async def _serve(self, ws: web.WebSocketResponse, context: ApiContext, principal: Principal, token: str) -> None:
        reader = asyncio.ensure_future(self._read(ws))
        closing = asyncio.ensure_future(self._closing.wait())
        try:
            while not ws.closed:
                if not _still_valid(context, token):
                    await _refuse(ws, CLOSE_UNAUTHORIZED, "unauthorized", "your token expired or was revoked; sign in again")
                    return
                await ws.send_json({"type": "snapshot", "ts": time.time(), **self._feed.snapshot()})
                done, _ = await asyncio.wait({reader, closing}, timeout=self._push_interval_s,
                                             return_when=asyncio.FIRST_COMPLETED)
                if reader in done:
                    reader.result()  # re-raises BadMessage
                    return
                if closing in done:
                    await ws.close(code=CLOSE_GOING_AWAY, message=b"gateway stopping")
                    return
        finally:
            reader.cancel()
            closing.cancel()

    async def _read(self, ws: web.WebSocketResponse) -> None:
        """Answer pings until the page goes away; raises BadMessage for anything else."""
        while True:
            message = await _receive(ws, None)
            if message is None:
                return
            if isinstance(message, PingMessage):
                await ws.send_json({"type": "pong", "ts": time.time()})
            else:
                raise BadMessage("already signed in")


async def _receive(ws: web.WebSocketResponse, timeout_s: float | None) -> AuthMessage | PingMessage | None:
    """The next valid message, or None when the socket closed. Raises BadMessage or TimeoutError."""
    msg = await ws.receive(timeout=timeout_s)
    if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
        return None
    if msg.type == WSMsgType.ERROR:
        # aiohttp reports an oversized frame this way (and closes with 1009 itself)
        raise BadMessage(f"message refused: {ws.exception() or 'protocol error'}")
    if msg.type != WSMsgType.TEXT:
        raise BadMessage("messages must be JSON text")
    try:
        data = json.loads(msg.data)
    except ValueError:
        raise BadMessage("message is not valid JSON") from None
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


async def _refuse(ws: web.WebSocketResponse, close_code: int, code: str, message: str,
                  retry_after: str | None = None) -> None:
    error: dict[str, Any] = {"code": code, "message": message}
    if retry_after is not None:
        error["retry_after_s"] = int(retry_after)
    if not ws.closed:
        try:
            await ws.send_json({"type": "error", "error": error})
        except ConnectionResetError:
            pass
        await ws.close(code=close_code, message=code.encode())


async def _audit(context: ApiContext, action: str, outcome: str, principal: Principal | None, address: str,
                 details: dict[str, Any]) -> None:
    event = AuditEvent(action=action, outcome=outcome, actor=principal.sub if principal else None,
                       jti=principal.jti if principal else None, client=address, target=None,
                       details={k: v for k, v in details.items() if v is not None})
    try:
        await context.audit.append(event)
    except Exception:
        log.exception("audit entry could not be written for %s", action)
