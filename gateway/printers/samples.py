"""Printer samples for the telemetry store: which metrics, and at most one batch per interval (pure)."""

from __future__ import annotations

from gateway.printers.normalize import PrinterReading
from gateway.telemetry.sink import Sample

# API field -> telemetry metric name.
METRICS = {
    "nozzle_c": "nozzle_c",
    "nozzle_target_c": "nozzle_target_c",
    "bed_c": "bed_c",
    "bed_target_c": "bed_target_c",
    "chamber_c": "chamber_c",
    "progress": "progress_pct",
    "layer": "layer",
    "remaining_min": "remaining_min",
}


def source_of(serial: str) -> str:
    return f"printer:{serial}"


def samples_of(serial: str, reading: PrinterReading, online: bool, ts: float) -> list[Sample]:
    source = source_of(serial)
    samples = [Sample(ts, source, "online", 1.0 if online else 0.0),
               Sample(ts, source, "errors", float(len(reading.errors)))]
    for field_name, metric in METRICS.items():
        value = getattr(reading, field_name)
        if value is not None:
            samples.append(Sample(ts, source, metric, float(value)))
    return samples


class Throttle:
    """At most once per `interval_s` (monotonic seconds). A change that must be recorded (online ->
    offline) and comes too early is kept `pending` and is due as soon as the interval has passed."""

    def __init__(self, interval_s: float) -> None:
        self._interval_s = interval_s
        self._last: float | None = None
        self.pending = False

    def due(self, now: float, *, force: bool = False) -> bool:
        if self._last is None or now - self._last >= self._interval_s:
            self._last = now
            self.pending = False
            return True
        if force:
            self.pending = True
        return False

    def wait_s(self, now: float) -> float:
        """Seconds until the next sample batch may go out."""
        return 0.0 if self._last is None else max(self._last + self._interval_s - now, 0.0)
