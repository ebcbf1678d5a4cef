"""The core route table (later parts contribute their own tables, composed by the app factory)."""

from __future__ import annotations

from gateway.api import audit, core, tokens
from gateway.api.models import (
    AUDIT_ID_MAX,
    AuditPage,
    HealthResponse,
    StatusResponse,
    TokenIssued,
    TokenIssueRequest,
    TokenList,
    TokenRevoked,
)
from gateway.auth.roles import Permission
from gateway.http.openapi import openapi_handler
from gateway.http.routes import QueryParam, Route


def core_routes() -> list[Route]:
    return [
        Route("GET", "/healthz", "health", core.healthz, "Liveness: ok or 503.", public=True,
              response=HealthResponse, errors=(503,)),
        Route("GET", "/api/v1/status", "status.get", core.status, "Gateway id, version, uptime, health of each part.",
              permission=Permission.STATUS_READ, response=StatusResponse),
        Route("GET", "/api/v1/openapi.json", "openapi", openapi_handler, "This API's OpenAPI 3.1 document.",
              permission=Permission.STATUS_READ),
        Route("GET", "/metrics", "metrics", core.metrics, "Prometheus metrics (text format).",
              permission=Permission.METRICS_READ, content_type="text/plain"),
        Route("GET", "/api/v1/tokens", "tokens.list", tokens.list_tokens, "List issued tokens (never the tokens themselves).",
              permission=Permission.TOKENS_MANAGE, response=TokenList),
        Route("POST", "/api/v1/tokens", "tokens.issue", tokens.issue_token,
              "Issue a token; it is returned once. It never expires after the issuing token: an explicit ttl_s "
              "beyond that is refused (422), the default lifetime is capped to it.",
              permission=Permission.TOKENS_MANAGE, body=TokenIssueRequest, response=TokenIssued, status=201,
              errors=(422,), audited=True),
        Route("DELETE", "/api/v1/tokens/{jti}", "tokens.revoke", tokens.revoke_token,
              "Revoke a token at once, and every token it issued (transitively); 404 for an id never issued here.",
              permission=Permission.TOKENS_MANAGE, response=TokenRevoked, errors=(404, 422), audited=True),
        Route("GET", "/api/v1/audit", "audit.list", audit.list_audit, "Audit log, newest first, with hash links.",
              permission=Permission.AUDIT_READ, response=AuditPage, errors=(422,),
              query=(QueryParam("before", {"type": "integer", "minimum": 1, "maximum": AUDIT_ID_MAX},
                                "Only entries with a smaller id."),
                     QueryParam("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}, "Page size."))),
    ]
