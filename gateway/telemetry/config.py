"""The ``[telemetry]`` section of the config file: where the buffer lives, how big, how durable."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway.telemetry import const
from gateway.telemetry.budget import budget_problem

DEFAULT_FILE_NAME = "telemetry.db"

OverflowPolicy = Literal["drop_oldest", "reject_new"]
Durability = Literal["full", "normal"]


class TelemetrySection(BaseModel):
    """The telemetry buffer (SQLite): samples wait here until the cloud connector acks them."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    path: Path | None = Field(
        None, description="Buffer file (default: <state_dir>/telemetry.db; a relative path is under state_dir)."
    )
    max_bytes: int = Field(
        const.DEFAULT_MAX_BYTES, ge=const.MIN_MAX_BYTES,
        description="Byte budget of the buffer file plus its WAL, enforced by SQLite (max_page_count).",
    )
    overflow: OverflowPolicy = Field(
        "drop_oldest",
        description="When the budget or the disk is full: 'drop_oldest' deletes the oldest samples and leaves a "
                    "gap marker the cloud receives; 'reject_new' refuses new samples (counted).",
    )
    durability: Durability = Field(
        "full",
        description="'full' (synchronous=FULL): a committed batch survives power loss. 'normal': it may be lost "
                    "on power loss (never corrupted), fewer fsyncs.",
    )
    flush_interval_ms: int = Field(
        const.FLUSH_INTERVAL_MS, ge=10, le=10_000,
        description="Pending samples are written at least this often: the crash-loss window, milliseconds.",
    )
    batch_size: int = Field(
        const.FLUSH_BATCH_SAMPLES, ge=1, le=200_000,
        description="A flush starts early when this many samples are pending (one transaction per batch).",
    )
    max_pending: int = Field(
        const.MAX_PENDING_SAMPLES, ge=1_000, le=10_000_000,
        description="Samples kept in memory while writes fail; beyond it new samples are dropped and counted.",
    )

    @model_validator(mode="after")
    def _pending_holds_a_batch(self) -> TelemetrySection:
        if self.max_pending < self.batch_size:
            raise ValueError(f"max_pending: must be at least batch_size ({self.batch_size})")
        problem = budget_problem(self.max_bytes, self.batch_size)
        if problem is not None:
            raise ValueError(f"max_bytes: {problem}")
        return self

    def db_path(self, state_dir: Path) -> Path:
        if self.path is None:
            return state_dir / DEFAULT_FILE_NAME
        return self.path if self.path.is_absolute() else state_dir / self.path
