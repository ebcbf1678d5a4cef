"""What the API handlers and middlewares work with, composed once by the app factory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.audit.store import AuditLog
from gateway.auth.backoff import FailedAuthTracker
from gateway.auth.keyring import Keyring
from gateway.auth.revocation import RevocationCache
from gateway.auth.tokens import TokenService
from gateway.api.models import StatusResponse
from gateway.config.models import GatewayConfig
from gateway.metrics import GatewayMetrics
from gateway.statedb.tokens import TokenRegistry


@dataclass
class ApiContext:
    config: GatewayConfig
    clock: Callable[[], float]
    keyring: Keyring
    tokens: TokenService
    registry: TokenRegistry
    revocations: RevocationCache
    audit: AuditLog
    failed_auth: FailedAuthTracker
    metrics: GatewayMetrics
    status: Callable[[], StatusResponse]
    is_healthy: Callable[[], bool] = field(default=lambda: True)
