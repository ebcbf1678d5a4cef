"""Authenticating one bearer token for one client address: back-off, verification, revocation.

Shared by the auth middleware (the `Authorization` header) and the live WebSocket (its first
message), so both paths count failures, block and report alike.
"""

from __future__ import annotations

import logging
import math

from gateway.api.context import ApiContext
from gateway.auth.errors import AuthError
from gateway.auth.tokens import TokenClaims
from gateway.http.errors import ApiError
from gateway.http.keys import AuditNote, Principal

log = logging.getLogger("gateway.auth")


def unauthorized(message: str, reason: str) -> ApiError:
    challenge = 'Bearer realm="edge-gateway"'
    if reason != "missing":
        challenge += ', error="invalid_token"'
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": challenge})


def refuse_blocked(context: ApiContext, address: str, retry_after: float, note: AuditNote) -> ApiError:
    """429 with Retry-After for a bad or missing credential from an address in back-off. Counted in
    metrics; audited once per block (the first refusal, with the block's length), not once per request."""
    context.metrics.auth_blocked.inc()
    if context.failed_auth.first_refusal_of_block(address):
        note.details.update(blocked_for_s=round(retry_after, 1),
                            aggregated="later refusals of this block: gateway_auth_blocked_requests")
    else:
        note.skip = True
    return ApiError(
        429,
        "too_many_failures",
        "too many failed authentications from this address; retry later",
        headers={"Retry-After": str(math.ceil(retry_after))},
    )


def verified_claims(context: ApiContext, token: str) -> TokenClaims:
    """The claims of a valid, unrevoked token; raises `AuthError` otherwise (nothing counted)."""
    claims = context.tokens.verify(token)
    if context.revocations.is_revoked(claims.jti):
        raise AuthError("revoked")
    return claims


def authenticate(context: ApiContext, address: str, token: str | AuthError, note: AuditNote) -> Principal:
    """Verify `token` (or the error met while reading it) for a client at `address`.

    A valid token is served even from an address in back-off: the back-off slows guessing and
    flooding, which a valid signature is not (so e-stop is never refused to a technician behind a shared
    address). A bad or missing credential gets 429 while the address is blocked, else 401, counted
    against the address: a request without a token counts too, so that an anonymous flood is blocked.
    """
    retry_after = context.failed_auth.retry_after(address)
    try:
        if isinstance(token, AuthError):
            raise token
        claims = verified_claims(context, token)
    except AuthError as exc:
        if retry_after > 0:
            raise refuse_blocked(context, address, retry_after, note) from None
        context.metrics.auth_failures.labels(exc.reason).inc()
        note.details["reason"] = exc.reason
        block_s = context.failed_auth.record_failure(address)
        if block_s > 0:
            note.details["backoff_s"] = round(block_s, 1)
            log.warning("client %s in failed-auth back-off for %.0f s", address, block_s)
        raise unauthorized(exc.message, exc.reason) from None
    return Principal(sub=claims.sub, role=claims.role, jti=claims.jti, kid=claims.kid)
