"""Audit log route: newest first, each entry with its hash-chain link."""

from __future__ import annotations

from aiohttp import web

from gateway.api.json import model_response
from gateway.api.models import AuditEntryOut, AuditPage, AuditQuery
from gateway.http.keys import CONTEXT
from gateway.http.validation import read_query


async def list_audit(request: web.Request) -> web.Response:
    query = read_query(request, AuditQuery)
    entries = await request.app[CONTEXT].audit.list(before_id=query.before, limit=query.limit)
    out = [
        AuditEntryOut(
            id=e.id, ts=e.ts, action=e.action, outcome=e.outcome, actor=e.actor, jti=e.jti, client=e.client,
            target=e.target, details=dict(e.details), prev_hash=e.prev_hash, hash=e.hash,
        )
        for e in entries
    ]
    next_before = out[-1].id if len(out) == query.limit and out[-1].id > 1 else None
    return model_response(AuditPage(entries=out, next_before=next_before))
