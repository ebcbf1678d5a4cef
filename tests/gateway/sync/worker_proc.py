"""Runs one sync worker in its own process, against the telemetry store's file and a state database (SIGKILL tests).

    python tests/gateway/sync/worker_proc.py BUFFER_DB STATE_DB SETTINGS_JSON
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from gateway.statedb.connection import open_state_db  # noqa: E402
from gateway.sync.config import SyncSection  # noqa: E402
from gateway.sync.deadletter import DeadLetterStore  # noqa: E402
from gateway.sync.progress import SyncProgress  # noqa: E402
from gateway.sync.store_source import TelemetryStoreSource  # noqa: E402
from gateway.sync.worker import SyncWorker  # noqa: E402
from gateway.telemetry.config import TelemetrySection  # noqa: E402
from gateway.telemetry.store import TelemetryStore  # noqa: E402

GATEWAY_ID = "gw-sync-01"


async def main(buffer: Path, state: Path, settings_json: str) -> None:
    import time

    settings = SyncSection.model_validate(json.loads(settings_json))
    source = TelemetryStoreSource(await TelemetryStore.open(buffer, TelemetrySection()))
    db = await open_state_db(state)
    worker = SyncWorker(settings, gateway_id=GATEWAY_ID, source=source, deadletters=DeadLetterStore(db, time.time),
                        progress=SyncProgress(db))
    print("worker running", flush=True)
    await worker.run()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]))
