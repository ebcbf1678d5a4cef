"""Helpers of the telemetry tests: settings, samples, waiting for conditions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from gateway.telemetry.config import TelemetrySection
from gateway.telemetry.sink import Sample

BASE_TS = 1_790_000_000.0


def settings(**overrides: Any) -> TelemetrySection:
    values: dict[str, Any] = {"flush_interval_ms": 20, "batch_size": 500, "max_pending": 50_000}
    values.update(overrides)
    return TelemetrySection(**values)


def samples(count: int, *, start: int = 0, source: str = "extruder", metric: str = "zone0.temp_c") -> list[Sample]:
    return [Sample(BASE_TS + (start + i) / 1000, source, metric, float(start + i)) for i in range(count)]


async def wait_until(condition: Callable[[], bool], timeout_s: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout_s} s")
        await asyncio.sleep(0.01)
