"""The `sync` section of `/api/v1/status` (and of `edge-gateway sync status`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SyncState = Literal["disabled", "starting", "idle", "sending", "backing_off", "stopped"]


class SyncStatus(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool
    state: SyncState = Field(description="idle (caught up), sending, backing_off (retry pending), stopped (needs a fix).")
    message: str | None = Field(None, description="Plain words on what is wrong, when something is.")
    endpoint: str | None = None
    last_success_at: float | None = Field(None, description="Unix time of the last acknowledged batch.")
    last_attempt_at: float | None = None
    backlog: int | None = Field(None, description="Buffered samples not yet acknowledged (by push or pull).")
    lag_s: float | None = Field(None, description="Age of the oldest sample not yet delivered, seconds.")
    rate_samples_per_s: float = Field(0.0, description="Delivered samples per second over the last minute.")
    delivered_samples: int = Field(0, description="Samples acknowledged by the endpoint since start.")
    delivered_batches: int = 0
    retries: int = Field(0, description="Attempts that failed and were retried since start.")
    next_attempt_in_s: float | None = None
    dead_letter_batches: int = Field(0, description="Batches set aside in the dead-letter table.")
    dead_letter_samples: int = 0
