"""Fixtures for the push-sync tests: a test CA with server/client certificates, a real mTLS receiver,
the real telemetry store on a file, a real state database, and a worker wired to them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gateway.statedb.connection import close_state_db, open_state_db
from gateway.sync.config import SyncSection
from gateway.sync.deadletter import DeadLetterStore
from gateway.sync.progress import SyncProgress
from gateway.sync.receiver import RunningReceiver, start_receiver
from gateway.sync.store_source import TelemetryStoreSource
from gateway.sync.worker import SyncWorker
from gateway.telemetry.config import TelemetrySection
from gateway.telemetry.sink import Sample
from gateway.telemetry.store import TelemetryStore
from tests.support.certs import Issued, TestCA

GATEWAY_ID = "gw-sync-01"


@dataclass(frozen=True)
class SyncCerts:
    ca: TestCA
    server: Issued  # 127.0.0.1, ::1, localhost
    client: Issued  # CN = GATEWAY_ID, signed by ca
    rogue_client: Issued  # signed by another CA
    expired_server: Issued
    wrong_host_server: Issued  # only for ingest.example.com


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> SyncCerts:
    base = tmp_path_factory.mktemp("sync-certs")
    ca = TestCA(base / "ca")
    rogue = TestCA(base / "rogue", name="somebody else's CA")
    return SyncCerts(
        ca=ca,
        server=ca.issue("receiver"),
        client=ca.issue(GATEWAY_ID, hosts=(), server=False),
        rogue_client=rogue.issue("rogue-client", hosts=(), server=False),
        expired_server=ca.issue("expired-receiver", not_before_days=-10, valid_days=5),
        wrong_host_server=ca.issue("wrong-host-receiver", hosts=("ingest.example.com",)),
    )


@pytest.fixture
async def receiver(certs: SyncCerts) -> AsyncIterator[RunningReceiver]:
    running = await start_receiver(ca_file=certs.ca.cert_file, cert_file=certs.server.cert_file,
                                   key_file=certs.server.key_file)
    try:
        yield running
    finally:
        await running.stop()


def sync_settings(certs: SyncCerts, endpoint: str, *, client: Issued | None = None, **overrides: Any) -> SyncSection:
    client = client or certs.client
    values: dict[str, Any] = {
        "enabled": True, "endpoint": endpoint, "ca_file": certs.ca.cert_file, "cert_file": client.cert_file,
        "key_file": client.key_file, "batch_size": 500, "backoff_initial_s": 0.05, "backoff_max_s": 0.2,
        "idle_poll_s": 0.05, "request_timeout_s": 10,
    }
    values.update(overrides)
    return SyncSection.model_validate(values)


def samples(count: int, *, start_ts: float = 1_763_900_000.0, step_s: float = 0.01) -> list[tuple[float, str, str, float]]:
    return [(start_ts + i * step_s, "extruder", f"zone{i % 3}.temp_c", 200.0 + (i % 50) / 10) for i in range(count)]


Row = tuple[float, str, str, float]


async def put_and_flush(store: TelemetryStore, rows: list[Row]) -> None:
    """Hand rows to the store through its producer interface and commit them."""
    for ts, source, metric, value in rows:
        store.put(Sample(ts, source, metric, value))
    assert await store.flush()


def buffer_settings() -> TelemetrySection:
    return TelemetrySection(max_pending=1_000_000, batch_size=200_000)


@dataclass
class Harness:
    """A worker over the real telemetry store and a real state database; ``start()`` runs it as a task."""

    worker: SyncWorker
    store: TelemetryStore
    source: TelemetryStoreSource
    deadletters: DeadLetterStore
    progress: SyncProgress
    task: asyncio.Task[None] | None = None

    @property
    def epoch(self) -> str:
        return self.store.epoch

    async def append(self, rows: list[Row]) -> None:
        await put_and_flush(self.store, rows)

    def start(self) -> None:
        self.task = asyncio.create_task(self.worker.run())

    async def stop(self) -> None:
        """Cancel the worker; a worker that had crashed meanwhile fails the test with its exception."""
        if self.task is not None:
            ended = self.task.done()  # run() never returns by itself: ending early is a crash
            self.task.cancel()
            outcome = (await asyncio.gather(self.task, return_exceptions=True))[0]
            self.task = None
            if ended:
                raise AssertionError(f"the sync worker ended on its own: {outcome!r}")


HarnessFactory = Callable[..., Any]


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[HarnessFactory]:
    opened: list[tuple[Harness, Any]] = []

    async def make(settings: SyncSection, *, buffer: TelemetrySection | None = None, **worker_args: Any) -> Harness:
        store = await TelemetryStore.open(tmp_path / "telemetry.db", buffer or buffer_settings())
        source = TelemetryStoreSource(store)
        db = await open_state_db(tmp_path / "state" / "state.db")
        clock = worker_args.pop("clock", time.time)
        deadletters = DeadLetterStore(db, clock)
        progress = SyncProgress(db)
        worker = SyncWorker(settings, gateway_id=GATEWAY_ID, source=source, deadletters=deadletters,
                            progress=progress, clock=clock, **worker_args)
        made = Harness(worker, store, source, deadletters, progress)
        opened.append((made, db))
        return made

    yield make
    for made, db in opened:
        await made.stop()
        await made.store.close()
        await close_state_db(db)


async def wait_until(predicate: Callable[[], bool], timeout_s: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.02)
