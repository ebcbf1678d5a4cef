"""Builds the push-sync part from its config section and the services it needs (called by the app factory)."""

from __future__ import annotations

from collections.abc import Callable

import aiosqlite

from gateway.sync.config import SyncSection
from gateway.sync.deadletter import DeadLetterStore
from gateway.sync.progress import SyncProgress
from gateway.sync.store_source import TelemetryStoreSource
from gateway.sync.worker import SyncWorker
from gateway.telemetry.store import TelemetryStore


def build_sync_worker(settings: SyncSection, *, gateway_id: str, store: TelemetryStore, db: aiosqlite.Connection,
                      clock: Callable[[], float], monotonic: Callable[[], float]) -> SyncWorker:
    """The worker over the telemetry store, with its dead letters and progress notes in the state db ``db``."""
    return SyncWorker(settings, gateway_id=gateway_id, source=TelemetryStoreSource(store),
                      deadletters=DeadLetterStore(db, clock), progress=SyncProgress(db), clock=clock,
                      monotonic=monotonic)
