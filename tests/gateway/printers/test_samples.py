"""Printer samples reach the telemetry sink (MemorySink stands in for the store), throttled per printer."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.printers.assembly import credential_store
from gateway.printers.config import PrinterConfig, PrintersSection
from gateway.printers.manager import PrinterManager
from gateway.printers.simulator.broker import Mosquitto
from gateway.telemetry.sink import MemorySink
from tests.gateway.printers.conftest import SimulatorFactory, eventually
from tests.support.mosquitto import ACCESS_CODE, PRINTER_SERIAL, BrokerCerts

SOURCE = f"printer:{PRINTER_SERIAL}"


async def test_samples_go_to_the_sink(tmp_path: Path, printer_broker: Mosquitto, broker_certs: BrokerCerts,
                                      simulators: SimulatorFactory) -> None:
    store = credential_store(tmp_path, tmp_path / "secrets.key")
    store.set_access_code(PRINTER_SERIAL, ACCESS_CODE)
    printer = PrinterConfig(serial=PRINTER_SERIAL, host="127.0.0.1", port=printer_broker.port,
                            ca_file=broker_certs.ca_file)
    sink = MemorySink()
    manager = PrinterManager(PrintersSection(printers=[printer]), [printer], store, sink)
    await simulators(printer_broker, rate_hz=10)
    tasks = [asyncio.create_task(part.run()) for part in manager.parts()]
    try:
        await eventually(lambda: _async(len(sink.of(SOURCE, "nozzle_c")) >= 2), timeout_s=10)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert 150 < sink.of(SOURCE, "nozzle_c")[-1] < 300
    assert sink.of(SOURCE, "bed_target_c")[-1] == 60.0
    assert sink.of(SOURCE, "online")[-1] == 1.0
    for metric in ("progress_pct", "layer", "bed_c", "chamber_c", "errors"):
        assert sink.of(SOURCE, metric), metric
    reports = manager.get(PRINTER_SERIAL).state.reports
    assert len(sink.of(SOURCE, "nozzle_c")) < reports  # at 10 Hz, one sample per second at most
    timestamps = [s.ts for s in sink.samples if s.source == SOURCE and s.metric == "nozzle_c"]
    assert all(b - a >= 0.9 for a, b in zip(timestamps, timestamps[1:]))


async def _async(value: bool) -> bool:
    return value


def test_at_most_one_batch_per_interval_even_when_forced_and_the_forced_change_is_kept() -> None:
    from gateway.printers.samples import Throttle

    throttle = Throttle(1.0)
    assert throttle.due(10.0)
    assert not throttle.due(10.2) and not throttle.pending
    assert not throttle.due(10.4, force=True) and throttle.pending, "too early even when forced: kept"
    assert throttle.wait_s(10.4) == pytest.approx(0.6)
    assert throttle.due(11.0) and not throttle.pending
