"""Typed configuration of the gateway: one TOML file, validated by these models.

Every field has a type, a description and a safe default, so an empty file describes a gateway that
serves plain HTTP on loopback only. Unknown keys are errors (`extra="forbid"`): a typo must never be
silently ignored on a device that drives heaters.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from gateway.auth import const as auth_const
from gateway.telemetry.config import TelemetrySection
from gateway.printers.config import PrintersSection
from gateway.sync.config import SyncSection
from gateway.control.settings import ExtruderSection

GATEWAY_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"
DEFAULT_STATE_DIR = Path("/var/lib/edge-gateway")
DEFAULT_HTTP_PORT = 8443
MAX_BODY_BYTES_DEFAULT = 64 * 1024


def _resolve_path(value: Path, info: ValidationInfo) -> Path:
    """Resolve a relative path against the directory of the config file that named it."""
    base = (info.context or {}).get("base_dir")
    if not value.is_absolute() and base is not None:
        return (Path(base) / value).resolve()
    return value


ConfigPath = Annotated[Path, AfterValidator(_resolve_path)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class GatewaySection(_Section):
    """Identity and local storage of this gateway."""

    id: str = Field(
        "edge-gateway",
        pattern=GATEWAY_ID_PATTERN,
        description="Gateway id: token issuer and audience, upstream identity. Lower-case letters, digits, '-'.",
    )
    state_dir: ConfigPath = Field(
        DEFAULT_STATE_DIR,
        description="Directory for the state database, keys and buffers (owned by the service user, 0700).",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="Log threshold.")
    log_format: Literal["text", "json"] = Field(
        "text", description="'text' for a terminal, 'json' (one object per line) for journald and shippers."
    )


class ListenAddress(_Section):
    """One address the HTTP server binds to."""

    host: str = Field(description="IP address literal to bind (IPv4 or IPv6), e.g. the printer-VLAN address.")
    port: int = Field(DEFAULT_HTTP_PORT, ge=0, le=65535, description="TCP port; 0 picks a free port (tests).")

    @field_validator("host")
    @classmethod
    def _ip_literal(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValueError("must be an IP address literal such as 192.168.40.2 or ::1, not a host name") from None
        return value

    @property
    def ip(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        return ipaddress.ip_address(self.host)

    @property
    def is_loopback(self) -> bool:
        return self.ip.is_loopback

    @property
    def is_wildcard(self) -> bool:
        return self.ip.is_unspecified


class TlsSection(_Section):
    """Server certificate of the local API (made by provisioning)."""

    cert_file: ConfigPath = Field(description="PEM certificate chain served to clients.")
    key_file: ConfigPath = Field(description="PEM private key of that certificate (0600).")

    @field_validator("cert_file", "key_file")
    @classmethod
    def _readable(cls, value: Path) -> Path:
        if not value.is_file():
            raise ValueError(f"file not found: {value}")
        return value


class HttpSection(_Section):
    """The local API server."""

    listen: list[ListenAddress] = Field(
        default_factory=lambda: [ListenAddress(host="127.0.0.1", port=DEFAULT_HTTP_PORT)],
        min_length=1,
        description="Addresses to bind. Wildcards (0.0.0.0, ::) are refused unless allow_wildcard_bind is true.",
    )
    allow_wildcard_bind: bool = Field(
        False, description="Allow binding 0.0.0.0 or :: (exposes the API on every interface)."
    )
    tls: TlsSection | None = Field(
        None, description="Certificate and key for HTTPS. Without it, only loopback addresses may be bound."
    )
    max_body_bytes: int = Field(
        MAX_BODY_BYTES_DEFAULT, ge=1024, le=MAX_BODY_BYTES_DEFAULT, description="Request bodies above this get 413."
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Reserved: proxy addresses whose X-Forwarded-For may be trusted. Empty: never trusted.",
    )

    @model_validator(mode="after")
    def _safe_binding(self) -> HttpSection:
        problems = []  # one line per problem, each naming its key (the loader reports each on its own)
        for index, address in enumerate(self.listen):
            if address.is_wildcard and not self.allow_wildcard_bind:
                problems.append(
                    f"listen[{index}].host: wildcard address {address.host} refused; "
                    "bind the printer-VLAN address or set allow_wildcard_bind = true"
                )
            if self.tls is None and not address.is_loopback:
                problems.append(
                    f"listen[{index}].host: plain HTTP on non-loopback address {address.host} refused; configure [http.tls]"
                )
        if problems:
            raise ValueError("\n".join(problems))
        return self


class BackoffSection(_Section):
    """Back-off for client addresses that fail authentication repeatedly."""

    limit: int = Field(auth_const.FAILED_AUTH_LIMIT, ge=1, le=100, description="Failures within the window before blocking.")
    window_s: float = Field(auth_const.FAILED_AUTH_WINDOW_S, gt=0, le=3600, description="Sliding window, seconds.")
    initial_block_s: float = Field(auth_const.BACKOFF_INITIAL_S, gt=0, le=3600, description="First block, seconds.")
    max_block_s: float = Field(auth_const.BACKOFF_MAX_S, gt=0, le=86400, description="Cap of the doubling block, seconds.")
    decay_s: float = Field(auth_const.BACKOFF_DECAY_S, gt=0, le=86400, description="Quiet time that steps the block down.")


class AuthSection(_Section):
    """Bearer tokens of the local API."""

    default_ttl_s: int = Field(auth_const.TOKEN_DEFAULT_TTL_S, ge=60, description="Lifetime of a token when none is given.")
    max_ttl_s: int = Field(auth_const.TOKEN_MAX_TTL_S, ge=60, description="Longest lifetime a token may be issued for.")
    leeway_s: float = Field(auth_const.TOKEN_LEEWAY_S, ge=0, le=300, description="Clock skew allowed on exp/nbf.")
    backoff: BackoffSection = Field(default_factory=BackoffSection)

    @model_validator(mode="after")
    def _ttl_order(self) -> AuthSection:
        if self.default_ttl_s > self.max_ttl_s:
            raise ValueError(f"default_ttl_s: must not exceed max_ttl_s ({self.max_ttl_s})")
        return self


class SecretsSection(_Section):
    """Where secret material lives. These paths (only these) may be overridden from the environment."""

    signing_keys_dir: ConfigPath | None = Field(
        None, description="Ed25519 token-signing keys (default: <state_dir>/keys)."
    )
    encryption_key_file: ConfigPath | None = Field(
        None, description="Key that encrypts secrets at rest, e.g. printer access codes (default: <state_dir>/secrets.key)."
    )


class LifecycleSection(_Section):
    """Supervision of the gateway's parts and of the service itself."""

    restart_initial_s: float = Field(1.0, gt=0, le=60, description="First restart delay of a failed part.")
    restart_max_s: float = Field(60.0, gt=0, le=3600, description="Cap of a failed part's restart delay.")
    shutdown_timeout_s: float = Field(4.0, gt=0, le=30, description="Time the parts get to stop on SIGTERM.")
    loop_lag_max_s: float = Field(
        1.0, gt=0, le=30, description="Event-loop lag above which the service stops sending WATCHDOG=1."
    )


class GatewayConfig(_Section):
    """The whole configuration file."""

    gateway: GatewaySection = Field(default_factory=GatewaySection)
    http: HttpSection = Field(default_factory=HttpSection)
    auth: AuthSection = Field(default_factory=AuthSection)
    secrets: SecretsSection = Field(default_factory=SecretsSection)
    lifecycle: LifecycleSection = Field(default_factory=LifecycleSection)
    telemetry: TelemetrySection = Field(default_factory=TelemetrySection)
    printers: PrintersSection = Field(default_factory=PrintersSection)
    sync: SyncSection = Field(default_factory=SyncSection)
    extruder: ExtruderSection = Field(default_factory=ExtruderSection)

    @property
    def state_db_path(self) -> Path:
        return self.gateway.state_dir / "state.db"

    @property
    def signing_keys_dir(self) -> Path:
        return self.secrets.signing_keys_dir or self.gateway.state_dir / "keys"

    @property
    def encryption_key_file(self) -> Path:
        return self.secrets.encryption_key_file or self.gateway.state_dir / "secrets.key"


def is_valid_gateway_id(value: str) -> bool:
    return re.fullmatch(GATEWAY_ID_PATTERN, value) is not None
