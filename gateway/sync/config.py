"""The `[sync]` section of the config file: where and how the gateway pushes its buffer upstream.

Kept in this package (the config models import it) so the sync settings live next to their part.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from gateway.sync import const

SyncFormat = Literal["ndjson+gzip", "json"]


def _resolve_path(value: Path, info: ValidationInfo) -> Path:
    """Relative paths are relative to the config file that names them (as everywhere in the config)."""
    base = (info.context or {}).get("base_dir")
    if not value.is_absolute() and base is not None:
        return (Path(base) / value).resolve()
    return value


SyncPath = Annotated[Path, AfterValidator(_resolve_path)]


class SyncSection(BaseModel):
    """Upstream push sync over mutual TLS (for gateways behind NAT that no connector can reach)."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    enabled: bool = Field(False, description="Push the telemetry buffer to `endpoint`. Pull and push may both be on.")
    endpoint: str | None = Field(
        None, description="HTTPS URL batches are POSTed to, e.g. https://ingest.example.com/v1/batches (https only)."
    )
    ca_file: SyncPath | None = Field(
        None, description="PEM CA bundle the endpoint's certificate must chain to (only this CA is trusted)."
    )
    cert_file: SyncPath | None = Field(None, description="PEM client certificate from provisioning (mutual TLS).")
    key_file: SyncPath | None = Field(None, description="PEM private key of the client certificate (0600).")
    batch_size: int = Field(
        const.BATCH_SIZE_DEFAULT, ge=1, le=const.BATCH_SIZE_MAX, description="Samples per POSTed batch (at most)."
    )
    format: SyncFormat = Field(
        "ndjson+gzip", description="'ndjson+gzip' (one JSON object per line, gzip-compressed) or 'json' (one document)."
    )
    connect_timeout_s: float = Field(
        const.CONNECT_TIMEOUT_S_DEFAULT, gt=0, le=300, description="TCP connect plus TLS handshake limit, seconds."
    )
    request_timeout_s: float = Field(
        const.REQUEST_TIMEOUT_S_DEFAULT, gt=0, le=3600, description="Whole request limit (send, wait, read), seconds."
    )
    backoff_initial_s: float = Field(
        const.BACKOFF_INITIAL_S_DEFAULT, gt=0, le=3600, description="First retry delay cap; doubles per failure (full jitter)."
    )
    backoff_max_s: float = Field(
        const.BACKOFF_MAX_S_DEFAULT, gt=0, le=86400, description="Cap of the doubling retry delay, seconds."
    )
    max_attempts: int = Field(
        const.MAX_ATTEMPTS_DEFAULT, ge=1, le=100,
        description="Attempts of a batch the receiver refuses (4xx other than 408/429, or 500) before it is dead-lettered.",
    )
    idle_poll_s: float = Field(
        const.IDLE_POLL_S_DEFAULT, gt=0, le=60, description="Wait before looking again when the buffer is empty, seconds."
    )

    @field_validator("endpoint")
    @classmethod
    def _https_only(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme != "https":
            raise ValueError("must be an https:// URL (push sync never sends data in clear text)")
        if not parts.hostname:
            raise ValueError("must name a host, e.g. https://ingest.example.com/v1/batches")
        if parts.username or parts.password:
            raise ValueError("must not carry credentials; the client certificate identifies the gateway")
        return value

    @field_validator("ca_file", "cert_file", "key_file")
    @classmethod
    def _readable(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"file not found: {value}")
        return value

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> SyncSection:
        if self.enabled:
            missing = [name for name in ("endpoint", "ca_file", "cert_file", "key_file") if getattr(self, name) is None]
            if missing:
                raise ValueError(f"enabled push sync needs {', '.join(missing)}")
        if self.backoff_initial_s > self.backoff_max_s:
            raise ValueError("backoff_initial_s must not exceed backoff_max_s")
        return self
