"""The one small interface through which every part hands samples to the telemetry store.

Producers (the extruder control loop, the printer links) call ``put`` from the event loop; it never
blocks and never awaits a database round trip: the store batches in memory and flushes on its own
schedule. Producers know nothing else about the store.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

__all__ = ["MemorySink", "Sample", "TelemetrySink", "SOURCE_MAX_CHARS", "METRIC_MAX_CHARS"]

SOURCE_MAX_CHARS = 64
METRIC_MAX_CHARS = 64


@dataclass(frozen=True, slots=True)
class Sample:
    """One measured value.

    ``ts`` is wall-clock time in seconds since the epoch; ``source`` names the producer instance
    (``"extruder"``, ``"printer:01S00C123456789"``); ``metric`` the quantity with its unit where it has
    one (``"zone0.temp_c"``, ``"nozzle_c"``, ``"progress_pct"``).
    """

    ts: float
    source: str
    metric: str
    value: float

    def __post_init__(self) -> None:
        if not self.source or len(self.source) > SOURCE_MAX_CHARS:
            raise ValueError(f"source must be 1 to {SOURCE_MAX_CHARS} characters")
        if not self.metric or len(self.metric) > METRIC_MAX_CHARS:
            raise ValueError(f"metric must be 1 to {METRIC_MAX_CHARS} characters")
        if not math.isfinite(self.ts):
            raise ValueError("ts must be finite")


class TelemetrySink(Protocol):
    """Where producers put samples. Implemented by the telemetry store (and ``MemorySink`` in tests)."""

    def put(self, sample: Sample) -> None:
        """Accept one sample without blocking. Never raises for a well-formed sample."""


class MemorySink:
    """A sink that keeps every sample in a list: the producers' tests use it to see what was handed over."""

    def __init__(self) -> None:
        self.samples: list[Sample] = []

    def put(self, sample: Sample) -> None:
        self.samples.append(sample)

    def of(self, source: str, metric: str) -> list[float]:
        """The values of one series, in the order they were put."""
        return [s.value for s in self.samples if s.source == source and s.metric == metric]
