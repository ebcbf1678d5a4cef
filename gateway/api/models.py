"""Request and response bodies of the core API routes (the OpenAPI document is generated from these)."""

from __future__ import annotations

import re
from typing import Any, Final, Literal

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
    """A token to issue. It never outlives the token that issues it: an explicit `ttl_s` ending after the
    issuer's own `exp` is refused (422, `body.ttl_s`, with the longest lifetime allowed); without `ttl_s`
    the default lifetime is capped to the issuer's remaining lifetime (see `expires_at` in the answer),
    and refused (422) when fewer than 60 s remain. The issuer's `jti` is recorded with the token:
    revoking the issuer revokes it too. Only the admin CLI on the device issues tokens without an issuer."""

    sub: str = Field(min_length=1, max_length=64, description="Who the token is for (a person or a connector).")
    role: Role
    ttl_s: int | None = Field(
        None, ge=60,
        description="Lifetime in seconds: at most auth.max_ttl_s, and never ending after the issuing token's own "
                    "expiry (refused with 422 otherwise). Default from config (auth.default_ttl_s), capped to "
                    "the issuing token's remaining lifetime.",
    )

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
    expires_at: int = Field(description="Never after the issuing token's own expiry.")
    issuer_jti: str | None = Field(None, description="The token that issued this one; revoking it revokes this one.")


class TokenInfo(ResponseBody):
    jti: str
    sub: str
    role: str
    kid: str
    issued_at: int
    expires_at: int
    revoked_at: float | None
    issuer_jti: str | None = Field(
        None, description="The token that issued this one through the API; null when issued by the admin CLI."
    )


class TokenList(ResponseBody):
    tokens: list[TokenInfo]


class TokenRevoked(ResponseBody):
    """The token is revoked, and with it every token it issued, transitively (the audit entry lists them)."""

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


AUDIT_ID_MAX: Final = 2**63 - 1
"""Largest audit entry id (SQLite's INTEGER range): `?before=` beyond it is refused with 422, never a 500."""

_DECIMAL = re.compile(r"-?[0-9]+")
_DECIMAL_MAX_DIGITS: Final = 19
"""Digits of the longest value any of these parameters can take (AUDIT_ID_MAX); longer is out of range."""


class AuditQuery(BaseModel):
    """Query of `GET /api/v1/audit`: each parameter a whole number in its range, else 422 naming it."""

    model_config = ConfigDict(extra="forbid")

    before: int | None = Field(None, ge=1, le=AUDIT_ID_MAX, description="Only entries with a smaller id.")
    limit: int = Field(100, ge=1, le=500, description="Page size.")

    @field_validator("before", "limit", mode="before")
    @classmethod
    def _whole_number(cls, value: Any) -> Any:
        """Query values arrive as text: plain decimal digits only (no sign, spaces, `_`, exponent or
        fraction), so that what is accepted is what the document's integer schema says."""
        if isinstance(value, str):
            if not _DECIMAL.fullmatch(value):
                raise ValueError("must be a whole number written in decimal digits")
            if len(value.lstrip("-").lstrip("0")) > _DECIMAL_MAX_DIGITS:
                raise ValueError(f"out of range (at most {AUDIT_ID_MAX}, and at least 1)")
        return value
