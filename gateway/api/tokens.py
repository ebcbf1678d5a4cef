"""Token routes: list, issue (the token is returned once), revoke."""

from __future__ import annotations

import re

from aiohttp import web

from gateway.api.json import model_response
from gateway.api.models import TokenInfo, TokenIssued, TokenIssueRequest, TokenList, TokenRevoked
from gateway.http.errors import ApiError
from gateway.http.keys import AUDIT_NOTE, CONTEXT, AuditNote
from gateway.http.validation import read_body

JTI_PATTERN = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


async def list_tokens(request: web.Request) -> web.Response:
    records = await request.app[CONTEXT].registry.list_tokens()
    return model_response(
        TokenList(
            tokens=[
                TokenInfo(
                    jti=r.jti, sub=r.sub, role=r.role, kid=r.kid, issued_at=r.iat, expires_at=r.exp, revoked_at=r.revoked_at
                )
                for r in records
            ]
        )
    )


async def issue_token(request: web.Request) -> web.Response:
    context = request.app[CONTEXT]
    body = await read_body(request, TokenIssueRequest)
    ttl_s = body.ttl_s if body.ttl_s is not None else context.config.auth.default_ttl_s
    if ttl_s > context.config.auth.max_ttl_s:
        raise ApiError(
            422, "validation_error", f"body.ttl_s: at most {context.config.auth.max_ttl_s} s",
            extra={"fields": [{"field": "body.ttl_s", "message": f"at most {context.config.auth.max_ttl_s}"}]},
        )
    try:
        token, claims = context.tokens.issue(body.sub, body.role, ttl_s)
    except ValueError as exc:
        raise ApiError(422, "validation_error", str(exc)) from None
    await context.registry.record_issued(claims.jti, claims.sub, claims.role, claims.kid, claims.iat, claims.exp)
    request[AUDIT_NOTE] = AuditNote(target=claims.jti, details={"sub": claims.sub, "role": claims.role, "ttl_s": ttl_s})
    issued = TokenIssued(
        token=token, jti=claims.jti, sub=claims.sub, role=claims.role, kid=claims.kid,  # type: ignore[arg-type]
        issued_at=claims.iat, expires_at=claims.exp,
    )
    return model_response(issued, status=201)


async def revoke_token(request: web.Request) -> web.Response:
    context = request.app[CONTEXT]
    jti = request.match_info["jti"]
    if not JTI_PATTERN.fullmatch(jti):
        raise ApiError(422, "validation_error", "path.jti: not a token id",
                       extra={"fields": [{"field": "path.jti", "message": "not a token id"}]})
    newly = await context.registry.revoke(jti)
    context.revocations.add(jti)
    request[AUDIT_NOTE] = AuditNote(target=jti, details={"already_revoked": not newly})
    return model_response(TokenRevoked(jti=jti, revoked=newly))
