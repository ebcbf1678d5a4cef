"""One audit entry per state-changing request and per refused request (401/403; 429 once per address and
block), with its outcome."""

from __future__ import annotations

import logging

from aiohttp import web

from gateway.audit.model import AuditEvent
from gateway.http.keys import AUDIT_NOTE, CONTEXT, PRINCIPAL, REQUEST_ID, AuditNote
from gateway.http.middlewares.auth import client_address
from gateway.http.routes import Handler, route_of

log = logging.getLogger("gateway.audit")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
REFUSED_STATUSES = frozenset({401, 403, 429})
AUDIT_PATH_MAX_CHARS = 200


def outcome_of(status: int) -> str:
    if status < 400:
        return "ok"
    if status in REFUSED_STATUSES:
        return "refused"
    return "failed"


def should_audit(request: web.Request, status: int) -> bool:
    route = route_of(request)
    if route is not None and route.public:
        return False
    if status in REFUSED_STATUSES:  # a 429 reaches here once per block (the others are skipped)
        return True
    return request.method not in SAFE_METHODS


@web.middleware
async def audit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    note = request.get(AUDIT_NOTE) or AuditNote()
    if note.skip or not should_audit(request, response.status):
        return response
    context = request.app[CONTEXT]
    route = route_of(request)
    principal = request.get(PRINCIPAL)
    event = AuditEvent(
        action=route.name if route is not None else "unmatched",
        outcome=outcome_of(response.status),
        actor=principal.sub if principal else None,
        jti=principal.jti if principal else None,
        client=client_address(request),
        target=note.target,
        details={
            "method": request.method,
            "path": request.path[:AUDIT_PATH_MAX_CHARS],
            "status": response.status,
            "request_id": request.get(REQUEST_ID, ""),
            **note.details,
        },
    )
    try:
        await context.audit.append(event)
        context.metrics.audit_entries.inc()
    except Exception:  # the request already took effect; a failed audit write is reported, not raised
        context.metrics.audit_failures.inc()
        log.exception("audit entry could not be written for %s", event.action)
    return response
