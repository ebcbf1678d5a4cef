"""Request and response bodies of the telemetry pull API (the OpenAPI document is generated from these)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from gateway.api.models import RequestBody, ResponseBody
from gateway.telemetry.const import PAGE_DEFAULT_SAMPLES, PAGE_MAX_SAMPLES


class TelemetryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    after: str | None = Field(None, max_length=64, description="Cursor of the last item seen (default: the acked cursor).")
    limit: int = Field(PAGE_DEFAULT_SAMPLES, ge=1, le=PAGE_MAX_SAMPLES, description="Most items to return.")


class GapInfo(ResponseBody):
    count: int = Field(description="Samples lost (dropped on overflow before they were acked).")
    first_seq: int
    last_seq: int
    first_ts: float
    last_ts: float


class TelemetryItem(ResponseBody):
    seq: int = Field(description="Sequence number: strictly increasing, never reused within an epoch.")
    ts: float = Field(description="Measurement time, Unix seconds (millisecond resolution).")
    source: str
    metric: str
    value: float | None = Field(description="The value (null for a non-finite reading); for a gap, the count lost.")
    gap: GapInfo | None = Field(None, description="Present on gap markers (metric 'gap').")


class TelemetryPage(ResponseBody):
    items: list[TelemetryItem]
    next: str = Field(description="Cursor to pass as ?after= (and to ack once the items are stored).")
    more: bool = Field(description="More items are waiting after this page.")


class TelemetryAckRequest(RequestBody):
    cursor: str = Field(min_length=1, max_length=64, description="A 'next' cursor from a pull.")


class TelemetryAcked(ResponseBody):
    acked: str = Field(description="The store's acked cursor after this request.")
    deleted: int = Field(description="Samples deleted by this ack (0 for a replayed or older ack).")
    replayed: bool = Field(description="True when the cursor was already acked: nothing changed.")
