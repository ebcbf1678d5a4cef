"""The producer interface: samples are checked at the boundary, and the memory sink keeps them in order."""

from __future__ import annotations

import math

import pytest

from gateway.telemetry.sink import METRIC_MAX_CHARS, MemorySink, Sample, TelemetrySink


def test_memory_sink_keeps_series_in_order() -> None:
    sink: TelemetrySink = MemorySink()
    for i in range(3):
        sink.put(Sample(1000.0 + i, "extruder", "zone0.temp_c", 20.0 + i))
    sink.put(Sample(1003.0, "printer:X1", "nozzle_c", 210.0))
    assert isinstance(sink, MemorySink)
    assert sink.of("extruder", "zone0.temp_c") == [20.0, 21.0, 22.0]
    assert sink.of("printer:X1", "nozzle_c") == [210.0]


def test_nan_value_is_a_sample_but_nan_time_is_not() -> None:
    """A failed sensor may report NaN as its value (the store keeps it); a sample without a time is a bug."""
    assert math.isnan(Sample(1.0, "extruder", "zone0.temp_c", math.nan).value)
    with pytest.raises(ValueError, match="ts"):
        Sample(math.nan, "extruder", "zone0.temp_c", 1.0)


@pytest.mark.parametrize("source, metric", [("", "m"), ("s", ""), ("s", "m" * (METRIC_MAX_CHARS + 1))])
def test_bad_names_refused(source: str, metric: str) -> None:
    with pytest.raises(ValueError):
        Sample(1.0, source, metric, 0.0)
