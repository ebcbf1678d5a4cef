"""The printers part: one driver per configured printer, each a supervised part, and their states.

Built by the app factory from the config, the credential store and a telemetry sink. The API reads
states and sends commands through `PrinterManager`; it never touches a driver or a connection.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from gateway.printers import commands
from gateway.printers.config import PrinterConfig, PrintersSection
from gateway.printers.credentials import CredentialError, CredentialStore
from gateway.printers.driver import PrinterDriver, PrinterOffline
from gateway.printers.hms import CatalogueError, load_catalogue
from gateway.printers.state import CommandRecord, LinkState, PrinterState
from gateway.printers.trust import NoTrustAnchor, client_context
from gateway.secrets.fernet import SecretError
from gateway.telemetry.sink import TelemetrySink

log = logging.getLogger(__name__)

__all__ = ["PrinterEntry", "PrinterManager", "PrinterOffline", "UnknownPrinter"]


class UnknownPrinter(KeyError):
    pass


class IdleLink:
    """The part of a printer that cannot be connected (no access code, no trust anchor): says why, waits."""

    def __init__(self, serial: str, state: PrinterState) -> None:
        self.name = f"printer:{serial}"
        self._state = state

    def problem(self) -> str | None:
        return self._state.problem

    async def run(self) -> None:
        await asyncio.Event().wait()


@dataclass
class PrinterEntry:
    config: PrinterConfig
    state: PrinterState
    driver: PrinterDriver | None


class PrinterManager:
    def __init__(
        self,
        section: PrintersSection,
        printers: Iterable[PrinterConfig],
        credentials: CredentialStore | None,
        sink: TelemetrySink,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        wait_before_connect: Mapping[str, Callable[[], Awaitable[object]]] | None = None,
    ) -> None:
        """``wait_before_connect``: per serial, what a link awaits before its first connection."""
        self._entries: dict[str, PrinterEntry] = {}
        waits = wait_before_connect or {}
        self.catalogue = self._catalogue(section.hms_catalogue)
        for printer in printers:
            state = PrinterState(printer.serial, clock, monotonic, offline_after_s=section.offline_after_s)
            driver = self._driver(printer, state, section, credentials, sink, waits.get(printer.serial))
            self._entries[printer.serial] = PrinterEntry(printer, state, driver)

    @staticmethod
    def _driver(printer: PrinterConfig, state: PrinterState, section: PrintersSection,
                credentials: CredentialStore | None, sink: TelemetrySink,
                wait: Callable[[], Awaitable[object]] | None) -> PrinterDriver | None:
        try:
            if credentials is None:
                raise ValueError("no credential store")
            access_code = credentials.access_code(printer)
            pin = credentials.pin(printer)
            # A pin from the store carries the CN it was taken with (the serial, or another one pinned
            # with --force); a pin from the config file expects the serial.
            pinned_cn = None if printer.pin_sha256 else credentials.get(printer.serial).pin_common_name
            if access_code is None:
                raise ValueError(f"no access code; set it with `edge-gateway printers set-code {printer.serial}`")
            client_context(printer.serial, ca_file=printer.ca_file, pin_sha256=pin,
                           insecure=printer.insecure_skip_verify)  # fails early when nothing can verify it
        except (NoTrustAnchor, ValueError, CredentialError, SecretError, OSError) as exc:
            state.set_link(LinkState.NOT_CONFIGURED, str(exc))
            log.error("printer %s not started: %s", printer.serial, exc)
            return None
        tls = partial(client_context, printer.serial, ca_file=printer.ca_file, pin_sha256=pin,
                      insecure=printer.insecure_skip_verify, pinned_common_name=pinned_cn)
        return PrinterDriver(printer, state, tls_context=lambda refused: tls(on_refused=refused),
                             access_code=access_code, sink=sink, reconnect_initial_s=section.reconnect_initial_s,
                             reconnect_max_s=section.reconnect_max_s, wait_before_connect=wait)

    @staticmethod
    def _catalogue(path: Path | None) -> Mapping[str, str]:
        try:
            return load_catalogue(path)
        except CatalogueError as exc:
            log.error("HMS catalogue not used (error codes are shown without the vendor's text): %s", exc)
            return load_catalogue(None)

    def parts(self) -> list[PrinterDriver | IdleLink]:
        """One supervised part per printer (an idle one for a printer that cannot be connected)."""
        return [entry.driver or IdleLink(serial, entry.state) for serial, entry in self._entries.items()]

    def entries(self) -> list[PrinterEntry]:
        return list(self._entries.values())

    def get(self, serial: str) -> PrinterEntry:
        try:
            return self._entries[serial]
        except KeyError:
            raise UnknownPrinter(serial) from None

    async def send(self, serial: str, build: Callable[[str, PrinterConfig], commands.BuiltCommand]) -> CommandRecord:
        """Build a command from its template (with this printer's limits and a fresh sequence id) and send it."""
        entry = self.get(serial)
        if entry.driver is None:
            raise PrinterOffline(f"printer {serial} is not connected ({entry.state.reason}): {entry.state.link_message}")
        return await entry.driver.send(build(entry.driver.next_sequence_id(), entry.config))
