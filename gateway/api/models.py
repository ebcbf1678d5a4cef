"""Request and response bodies of the core API routes (the OpenAPI document is generated from these)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.auth.const import ROLES
from gateway.sync.status import SyncStatus

Role = Literal["viewer", "technician", "admin", "sync"]
assert set(Role.__args__) == set(ROLES), "Role literal out of step with gateway.auth.const.ROLES"  # type: ignore[attr-defined]


class RequestBody(BaseModel):
    """Client input: strict JSON types, unknown fields refused (422)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class ResponseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(ResponseBody):
    code: str = Field(description="Machine-readable error code.")
    message: str = Field(description="What went wrong, for a person.")
    fields: list[dict[str, str]] | None = Field(None, description="For 422: each offending field and why.")
    current_epoch: str | None = Field(None, description="For a stale telemetry cursor: the store's epoch.")


class ErrorResponse(ResponseBody):
    error: ErrorDetail


class HealthResponse(ResponseBody):
    status: Literal["ok", "unavailable"]


class PartStatus(ResponseBody):
    name: str
    state: str = Field(description="starting, running, failed (restart pending), stopped, or degraded (running but "
                                   "unable to work until someone acts; last_error says why).")
    since: float = Field(description="Unix time of the last state change.")
    restarts: int = 0
    last_error: str | None = None
    next_restart_in_s: float | None = None
    detail: dict[str, Any] = Field(default_factory=dict, description="Part-specific figures.")


class WatchdogStatus(ResponseBody):
    enabled: bool
    pings_sent: int
    pings_withheld: int
    last_failure: str | None


class LoopStatus(ResponseBody):
    lag_s: float
    worst_lag_s: float


class AuthStatus(ResponseBody):
    active_kid: str
    blocked_addresses: int


class StatusResponse(ResponseBody):
    gateway_id: str
    version: str
    uptime_s: float
    state: Literal["ok", "degraded", "stopping"]
    parts: list[PartStatus]
    event_loop: LoopStatus
    watchdog: WatchdogStatus
    auth: AuthStatus
    listen: list[str]
    sync: SyncStatus | None = Field(None, description="Upstream push sync: state, last success, backlog, lag, rate, dead letters.")


class TokenIssueRequest(RequestBody):
    sub: str = Field(min_length=1, max_length=64, description="Who the token is for (a person or a connector).")
    role: Role
    ttl_s: int | None = Field(None, ge=60, description="Lifetime in seconds (default from config, at most max_ttl_s).")

    @field_validator("sub")
    @classmethod
    def _printable(cls, value: str) -> str:
        if not value.isprintable():
            raise ValueError("must be printable characters only (no control characters)")
        return value


class TokenIssued(ResponseBody):
    token: str = Field(description="The bearer token. Shown once: it is not stored.")
    jti: str
    sub: str
    role: Role
    kid: str
    issued_at: int
    expires_at: int


class TokenInfo(ResponseBody):
    jti: str
    sub: str
    role: str
    kid: str
    issued_at: int
    expires_at: int
    revoked_at: float | None


class TokenList(ResponseBody):
    tokens: list[TokenInfo]


class TokenRevoked(ResponseBody):
    jti: str
    revoked: bool = Field(description="False when it was already revoked.")


class AuditEntryOut(ResponseBody):
    id: int
    ts: float
    action: str
    outcome: str
    actor: str | None
    jti: str | None
    client: str | None
    target: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str


class AuditPage(ResponseBody):
    entries: list[AuditEntryOut]
    next_before: int | None = Field(description="Pass as ?before= to get the next (older) page; null at the end.")


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    before: int | None = Field(None, ge=1, description="Only entries with a smaller id.")
    limit: int = Field(100, ge=1, le=500, description="Page size.")
