"""Typed keys for what the app and each request carry (aiohttp AppKey / RequestKey)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from gateway.api.context import ApiContext
    from gateway.http.routes import Route


@dataclass(frozen=True)
class Principal:
    """Who made a request: the verified token's subject and role."""

    sub: str
    role: str
    jti: str
    kid: str


@dataclass
class AuditNote:
    """What a handler wants the audit entry of its request to say (set on the request, written once)."""

    target: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    skip: bool = False


CONTEXT: web.AppKey[ApiContext] = web.AppKey("context")
ROUTES: web.AppKey[dict[str, Route]] = web.AppKey("routes")

PRINCIPAL: web.RequestKey[Principal] = web.RequestKey("principal")
REQUEST_ID: web.RequestKey[str] = web.RequestKey("request_id")
AUDIT_NOTE: web.RequestKey[AuditNote] = web.RequestKey("audit_note")
