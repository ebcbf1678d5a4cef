"""Bearer-token authentication, failed-auth back-off and the route table's role check.

Order of decisions for a request:
1. public route (the table says so): served without a token;
2. the client address is in back-off: 429 with Retry-After, credentials not even looked at;
3. `Authorization: Bearer <token>` verified (signature, alg, claims, key, revocation): 401 otherwise,
   and the failure is counted against the client address (never trusting X-Forwarded-For);
4. the route's permission checked against the token's role: 403 otherwise;
5. a path that matches no route answers 404 only to an authenticated client.
Tokens in the query string are never read.
"""

from __future__ import annotations

import logging
import math

from aiohttp import web

from gateway.auth.errors import AuthError
from gateway.auth.roles import role_allows
from gateway.http.errors import ApiError
from gateway.http.keys import AUDIT_NOTE, CONTEXT, PRINCIPAL, AuditNote, Principal
from gateway.http.routes import Handler, route_of

log = logging.getLogger("gateway.auth")

BEARER_PREFIX = "bearer "
UNKNOWN_CLIENT = "unknown"


def client_address(request: web.Request) -> str:
    """The peer address of the connection (X-Forwarded-For is not trusted)."""
    return request.remote or UNKNOWN_CLIENT


def bearer_token(request: web.Request) -> str:
    header = request.headers.get("Authorization")
    if header is None:
        raise AuthError("missing")
    if not header[: len(BEARER_PREFIX)].lower() == BEARER_PREFIX:
        raise AuthError("malformed")
    token = header[len(BEARER_PREFIX) :].strip()
    if not token:
        raise AuthError("malformed")
    return token


def _unauthorized(message: str, reason: str) -> ApiError:
    challenge = 'Bearer realm="edge-gateway"'
    if reason != "missing":
        challenge += ', error="invalid_token"'
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": challenge})


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    context = request.app[CONTEXT]
    route = route_of(request)
    if route is not None and route.public:
        return await handler(request)

    address = client_address(request)
    retry_after = context.failed_auth.retry_after(address)
    if retry_after > 0:
        context.metrics.auth_blocked.inc()
        request[AUDIT_NOTE] = AuditNote(skip=True)  # the failure that started the block was audited
        raise ApiError(
            429,
            "too_many_failures",
            "too many failed authentications from this address; retry later",
            headers={"Retry-After": str(math.ceil(retry_after))},
        )

    try:
        token = bearer_token(request)
        claims = context.tokens.verify(token)
        if context.revocations.is_revoked(claims.jti):
            raise AuthError("revoked")
    except AuthError as exc:
        context.metrics.auth_failures.labels(exc.reason).inc()
        note = request.setdefault(AUDIT_NOTE, AuditNote())
        note.details["reason"] = exc.reason
        if exc.reason != "missing":  # presenting no credentials is not a failed authentication
            block_s = context.failed_auth.record_failure(address)
            if block_s > 0:
                note.details["backoff_s"] = round(block_s, 1)
                log.warning("client %s in failed-auth back-off for %.0f s", address, block_s)
        raise _unauthorized(exc.message, exc.reason) from None

    principal = Principal(sub=claims.sub, role=claims.role, jti=claims.jti, kid=claims.kid)
    request[PRINCIPAL] = principal
    if route is None:
        return await handler(request)  # aiohttp's 404/405 for an authenticated client
    assert route.permission is not None  # guaranteed by Route
    if not role_allows(principal.role, route.permission):
        raise ApiError(403, "forbidden", f"role '{principal.role}' may not use {route.method} {route.path}")
    return await handler(request)
