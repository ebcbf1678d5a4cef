"""Composing the printers part from the config (called once, by the app factory)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import Gauge

from gateway.lifecycle.supervisor import Part
from gateway.printers.config import PrintersSection
from gateway.printers.credentials import STORE_FILE_NAME, CredentialStore
from gateway.printers.manager import PrinterManager
from gateway.printers.simulator.site import SimulatedSite
from gateway.printers.state import LinkState
from gateway.secrets.fernet import load_or_create_key
from gateway.telemetry.sink import TelemetrySink


def credential_store(state_dir: Path, key_file: Path) -> CredentialStore:
    return CredentialStore(state_dir / STORE_FILE_NAME, load_or_create_key(key_file))


@dataclass
class PrintersPart:
    manager: PrinterManager
    parts: list[Part] = field(default_factory=list)

    @property
    def link_names(self) -> frozenset[str]:
        return frozenset(f"printer:{entry.config.serial}" for entry in self.manager.entries())

    def export_link_states(self, gauge: Gauge) -> None:
        """Set ``gauge{printer, state}`` to 1 for each printer's link state and 0 for the others."""
        for entry in self.manager.entries():
            for link in LinkState:
                gauge.labels(entry.config.serial, str(link)).set(1 if entry.state.link is link else 0)

    def link_detail(self, part_name: str) -> dict[str, object]:
        """What status shows for one printer link: its own state (e.g. auth_failed) and why."""
        state = self.manager.get(part_name.removeprefix("printer:")).state
        return {"link": str(state.link), "online": state.online, "message": state.link_message,
                "connects": state.connects, "dropped": sum(state.dropped.values())}


def build_printers(
    section: PrintersSection,
    *,
    state_dir: Path,
    key_file: Path,
    sink: TelemetrySink,
    clock: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
) -> PrintersPart:
    """The manager and its supervised parts (the demo's simulated site first, then one link per printer)."""
    printers = list(section.printers)
    parts: list[Part] = []
    waits: dict[str, Callable[[], Awaitable[object]]] = {}
    if printers or section.simulated_printers:
        credentials = credential_store(state_dir, key_file)
        if section.simulated_printers:
            site, simulated = SimulatedSite.prepare(state_dir, section.simulated_printers, credentials)
            parts.append(site)
            printers += simulated
            waits = {printer.serial: site.broker_up.wait for printer in simulated}
    else:
        credentials = None  # no printers: no key file is created
    manager = PrinterManager(section, printers, credentials, sink, clock=clock, monotonic=monotonic,
                             wait_before_connect=waits)
    return PrintersPart(manager, [*parts, *manager.parts()])
