"""Bearer-token authentication, failed-auth back-off and the route table's role check.

Order of decisions for a request:
1. public route (the table says so): served without a token;
2. `Authorization: Bearer <token>` verified (signature, alg, claims, key, revocation); a valid token is
   served even from an address in back-off (e-stop must never be refused to a valid token);
3. a bad or missing token: 429 with Retry-After while the address is in back-off (audited once per
   block), else 401, and the failure is counted against the client address (never trusting
   X-Forwarded-For);
4. the route's permission checked against the token's role: 403 otherwise;
5. a path that matches no route answers 404 only to an authenticated client.
Tokens in the query string are never read.
"""

from __future__ import annotations

from aiohttp import web

from gateway.auth.errors import AuthError
from gateway.auth.roles import role_allows
from gateway.http.authenticate import authenticate
from gateway.http.errors import ApiError
from gateway.http.keys import AUDIT_NOTE, CONTEXT, PRINCIPAL, AuditNote
from gateway.http.routes import Handler, route_of

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


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    context = request.app[CONTEXT]
    route = route_of(request)
    if route is not None and route.public:
        return await handler(request)

    note = request.setdefault(AUDIT_NOTE, AuditNote())
    token: str | AuthError
    try:
        token = bearer_token(request)
    except AuthError as exc:
        token = exc
    principal = authenticate(context, client_address(request), token, note)
    request[PRINCIPAL] = principal
    if route is None:
        return await handler(request)  # aiohttp's 404/405 for an authenticated client
    assert route.permission is not None  # guaranteed by Route
    if not role_allows(principal.role, route.permission):
        raise ApiError(403, "forbidden", f"role '{principal.role}' may not use {route.method} {route.path}")
    return await handler(request)
