"""Child process of the SIGKILL test: ingests through the real store and reports each committed batch.

Usage: python ingest_child.py DB_PATH REPORT_PATH RUN_ID. Sample number i of this run has value i and
source ``run<RUN_ID>``. After each commit the child appends ``first_seq last_seq`` to REPORT_PATH
(unbuffered, one write per line), so the parent knows what was committed before it killed the child.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from gateway.telemetry.config import TelemetrySection  # noqa: E402
from gateway.telemetry.sink import Sample  # noqa: E402
from gateway.telemetry.store import TelemetryStore  # noqa: E402

BURST_SAMPLES = 200
BURST_PAUSE_S = 0.002


async def main(db_path: Path, report_path: Path, run_id: str) -> None:
    settings = TelemetrySection(flush_interval_ms=20, batch_size=1_000, max_pending=100_000)
    store = await TelemetryStore.open(db_path, settings)
    fd = os.open(report_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    store.add_commit_listener(lambda first, last: os.write(fd, f"{first} {last}\n".encode()))
    os.write(fd, f"open {store.committed_seq}\n".encode())
    flusher = asyncio.create_task(store.run())
    source = f"run{run_id}"
    i = 0
    while True:
        for _ in range(BURST_SAMPLES):
            store.put(Sample(1_790_000_000.0 + i / 1000, source, "counter", float(i)))
            i += 1
        await asyncio.sleep(BURST_PAUSE_S)
        if flusher.done():
            flusher.result()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]))
