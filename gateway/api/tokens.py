"""Token routes: list, issue (the token is returned once), revoke.

Issuance through the API is bounded by the issuer: a token never expires after the token that issued it
(an explicit ``ttl_s`` that would is refused with 422 naming ``body.ttl_s``; the default lifetime is
capped to the issuer's remaining lifetime instead). Each issued token records its issuer's ``jti``, and
revoking a token revokes every token it issued, transitively. Only the admin CLI on the device issues
without an issuer (its tokens are bounded by ``auth.max_ttl_s`` alone).
"""

from __future__ import annotations

import re
from typing import Final

from aiohttp import web

from gateway.api.json import model_response
from gateway.api.models import (
    TokenInfo,
    TokenIssued,
    TokenIssueRequest,
    TokenList,
    TokenRevoked,
)
from gateway.auth.errors import AuthError
from gateway.auth.tokens import TokenClaims
from gateway.http.authenticate import unauthorized
from gateway.http.errors import ApiError
from gateway.http.keys import AUDIT_NOTE, CONTEXT, PRINCIPAL, AuditNote
from gateway.http.middlewares.auth import bearer_token
from gateway.http.validation import read_body

JTI_PATTERN = re.compile(r"^[A-Za-z0-9_-]{8,64}$")

MIN_TTL_S: Final = 60
"""Shortest lifetime a token is issued for through the API (``TokenIssueRequest.ttl_s``'s minimum)."""

ISSUE_ATTEMPTS: Final = 3
"""Signing again when the clock ticked to the next second between computing the lifetime and signing."""


async def list_tokens(request: web.Request) -> web.Response:
    records = await request.app[CONTEXT].registry.list_tokens()
    return model_response(
        TokenList(
            tokens=[
                TokenInfo(
                    jti=r.jti, sub=r.sub, role=r.role, kid=r.kid, issued_at=r.iat, expires_at=r.exp,
                    revoked_at=r.revoked_at, issuer_jti=r.issuer_jti,
                )
                for r in records
            ]
        )
    )


def _ttl_error(message: str) -> ApiError:
    return ApiError(422, "validation_error", f"body.ttl_s: {message}",
                    extra={"fields": [{"field": "body.ttl_s", "message": message}]})


def _issuer_claims(request: web.Request) -> TokenClaims:
    """The verified claims of the token this request was made with (its exp bounds what it may issue)."""
    context = request.app[CONTEXT]
    try:
        claims = context.tokens.verify(bearer_token(request))  # verified by the middleware: a cache hit
    except AuthError as exc:  # expired in between (inside the leeway)
        raise unauthorized(exc.message, exc.reason) from None
    principal = request.get(PRINCIPAL)
    if principal is None or principal.jti != claims.jti:  # cannot happen behind the auth middleware
        raise unauthorized("the token could not be read again", "malformed")
    return claims


async def issue_token(request: web.Request) -> web.Response:
    context = request.app[CONTEXT]
    body = await read_body(request, TokenIssueRequest)
    issuer = _issuer_claims(request)
    max_ttl_s = context.config.auth.max_ttl_s
    explicit = body.ttl_s is not None
    ttl_s = body.ttl_s if body.ttl_s is not None else context.config.auth.default_ttl_s
    if ttl_s > max_ttl_s:
        raise _ttl_error(f"at most {max_ttl_s}")
    token, claims, capped = "", None, False
    for _ in range(ISSUE_ATTEMPTS):
        remaining_s = issuer.exp - int(context.clock())
        if ttl_s > remaining_s:
            if explicit:
                raise _ttl_error(
                    f"at most {max(remaining_s, 0)}: a token may not outlive the token that issues it "
                    f"(yours expires at {issuer.exp})"
                )
            ttl_s, capped = remaining_s, True
        if ttl_s < MIN_TTL_S:
            raise _ttl_error(
                f"your token expires in {max(remaining_s, 0)} s, too soon to issue one for at least {MIN_TTL_S} s "
                "(a token may not outlive the token that issues it)"
            )
        try:
            token, claims = context.tokens.issue(body.sub, body.role, ttl_s)
        except ValueError as exc:
            raise ApiError(422, "validation_error", str(exc)) from None
        if claims.exp <= issuer.exp:
            break
        claims = None  # the clock moved on while signing: not recorded, never shown; sign again
    if claims is None:
        raise ApiError(503, "unavailable", "the clock moved while issuing; try again")
    await context.registry.record_issued(claims.jti, claims.sub, claims.role, claims.kid, claims.iat, claims.exp,
                                         issuer_jti=issuer.jti)
    details: dict[str, object] = {"sub": claims.sub, "role": claims.role, "ttl_s": ttl_s, "issuer_jti": issuer.jti}
    if capped:
        details["ttl_capped_to_issuer"] = True
    request[AUDIT_NOTE] = AuditNote(target=claims.jti, details=details)
    issued = TokenIssued(
        token=token, jti=claims.jti, sub=claims.sub, role=claims.role, kid=claims.kid,  # type: ignore[arg-type]
        issued_at=claims.iat, expires_at=claims.exp, issuer_jti=issuer.jti,
    )
    return model_response(issued, status=201)


async def revoke_token(request: web.Request) -> web.Response:
    context = request.app[CONTEXT]
    jti = request.match_info["jti"]
    if not JTI_PATTERN.fullmatch(jti):
        raise ApiError(422, "validation_error", "path.jti: not a token id",
                       extra={"fields": [{"field": "path.jti", "message": "not a token id"}]})
    revocation = await context.registry.revoke_known(jti)
    if revocation is None:
        request[AUDIT_NOTE] = AuditNote(target=jti, details={"known": False})
        raise ApiError(404, "not_found", "no token with this id was issued here (or it expired long ago)")
    for revoked in revocation.newly_revoked:
        context.revocations.add(revoked)
    details: dict[str, object] = {"already_revoked": not revocation.newly}
    if revocation.cascaded:
        details.update(cascaded=len(revocation.cascaded), cascaded_jtis=list(revocation.cascaded))
    request[AUDIT_NOTE] = AuditNote(target=jti, details=details)
    return model_response(TokenRevoked(jti=jti, revoked=revocation.newly))
