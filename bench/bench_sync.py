"""Benchmark of the push sync (issue 7). Prints one JSON object; asserts nothing.

- Drain rate of a backlog (1M samples by default) from the real telemetry store to the reference
  receiver over mutual TLS on loopback, by the real SyncWorker (batches of 5k, ndjson+gzip, each batch
  acked = deleted in the store after the 2xx). Target: >= 50k samples/s.
- Bytes on the wire per sample: request bodies as the receiver read them off the socket (compressed),
  plus the HTTP request head of each batch; next to the uncompressed NDJSON size.
- Baselines in the same run, as ratios: the store's raw read rate (read_after pages, no network), and a
  plain POST loop of the very same bodies over the same kind of mTLS connection (no store, no acks).

The receiver runs in its own process (`python -m gateway.sync.receiver --counts-only`), as a real
endpoint would, so the gateway side and the receiving side do not share one core.

Run: .venv/bin/python bench/bench_sync.py [--samples 1000000] [--batch 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.statedb.connection import close_state_db, open_state_db  # noqa: E402
from gateway.sync.batch import Batch, encode_batch  # noqa: E402
from gateway.sync.config import SyncSection  # noqa: E402
from gateway.sync.deadletter import DeadLetterStore  # noqa: E402
from gateway.sync.progress import SyncProgress  # noqa: E402
from gateway.sync.receiver import STATS_PATH  # noqa: E402
from gateway.sync.source import SourceCursor  # noqa: E402
from gateway.sync.store_source import TelemetryStoreSource  # noqa: E402
from gateway.sync.tls import client_context  # noqa: E402
from gateway.sync.worker import SyncWorker  # noqa: E402
from gateway.telemetry.config import TelemetrySection  # noqa: E402
from gateway.telemetry.sink import Sample  # noqa: E402
from gateway.telemetry.store import TelemetryStore  # noqa: E402
from tests.support.certs import TestCA  # noqa: E402

GATEWAY_ID = "gw-bench-01"
SERIES = [("extruder", f"zone{z}.{m}") for z in range(4) for m in ("temp_c", "output", "setpoint_c")] + [
    (f"printer:01S00C12345678{p}", m) for p in range(4) for m in ("nozzle_c", "bed_c", "progress_pct")]
BASE_TS = 1_790_000_000.0
FILL_CHUNK = 100_000


def start_receiver(tmp: Path, ca: TestCA) -> tuple[subprocess.Popen[str], str]:
    server = ca.issue("bench-receiver")
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.sync.receiver", "--ca", str(ca.cert_file), "--cert", str(server.cert_file),
         "--key", str(server.key_file), "--counts-only"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if "listening on" not in line:
        process.kill()
        raise RuntimeError(f"receiver did not start: {line!r}")
    return process, line.rsplit(" ", 1)[1].strip()


async def fill(store: TelemetryStore, samples: int) -> None:
    n_series = len(SERIES)
    for start in range(0, samples, FILL_CHUNK):
        for i in range(start, min(samples, start + FILL_CHUNK)):
            source, metric = SERIES[i % n_series]
            store.put(Sample(BASE_TS + i / 1000, source, metric, 20.0 + (i % 997) / 7))
        assert await store.flush()


async def raw_read(source: TelemetryStoreSource, batch: int) -> tuple[float, int]:
    """The store's read rate with nothing else: every page read, nothing sent or acked."""
    cursor = await source.acked_cursor()
    count = 0
    started = time.perf_counter()
    while True:
        rows = await source.read_after(cursor, batch)
        if not rows:
            break
        count += len(rows)
        cursor = SourceCursor(cursor.epoch, rows[-1].seq)
    return time.perf_counter() - started, count


async def encoded_bodies(source: TelemetryStoreSource, batch: int, fmt: str) -> tuple[list[tuple[bytes, dict[str, str]]], int]:
    """The same batches the worker will send, under another gateway id (so the receiver counts both runs)."""
    cursor = await source.acked_cursor()
    bodies = []
    raw_bytes = 0
    while True:
        rows = await source.read_after(cursor, batch)
        if not rows:
            break
        encoded = encode_batch(Batch("gw-baseline", cursor.epoch, rows), fmt)
        raw_bytes += len(gzip.decompress(encoded.body)) if fmt == "ndjson+gzip" else len(encoded.body)
        bodies.append((encoded.body, encoded.headers))
        cursor = SourceCursor(cursor.epoch, rows[-1].seq)
    return bodies, raw_bytes


async def plain_post_loop(url: str, ca: TestCA, client: Any, bodies: list[tuple[bytes, dict[str, str]]]) -> float:
    context = client_context(ca_file=ca.cert_file, cert_file=client.cert_file, key_file=client.key_file)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context, limit=1)) as session:
        started = time.perf_counter()
        for body, headers in bodies:
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"baseline POST got {response.status}")
        return time.perf_counter() - started


async def receiver_stats(url: str, ca: TestCA, client: Any) -> dict[str, Any]:
    context = client_context(ca_file=ca.cert_file, cert_file=client.cert_file, key_file=client.key_file)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as session:
        async with session.get(url.rsplit("/v1/", 1)[0] + STATS_PATH) as response:
            return dict(await response.json())


def request_head_bytes(url: str, headers: dict[str, str], body_len: int) -> int:
    """Size of the request line and headers aiohttp sends for one batch (measured shape, typical values)."""
    lines = ["POST /v1/batches HTTP/1.1", "Host: " + url.split("/")[2], "Accept: */*",
             "Accept-Encoding: gzip, deflate", "User-Agent: Python/3.11 aiohttp/3", f"Content-Length: {body_len}",
             *(f"{k}: {v}" for k, v in headers.items())]
    return len("\r\n".join(lines)) + 4


async def run(samples: int, batch: int, fmt: str) -> dict[str, Any]:
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        ca = TestCA(tmp / "ca")
        client = ca.issue(GATEWAY_ID, hosts=(), server=False)
        receiver, url = start_receiver(tmp, ca)
        store = await TelemetryStore.open(tmp / "telemetry.db",
                                          TelemetrySection(max_pending=2_000_000, batch_size=200_000))
        db = await open_state_db(tmp / "state.db")
        try:
            t = time.perf_counter()
            await fill(store, samples)
            fill_s = time.perf_counter() - t
            source = TelemetryStoreSource(store)

            read_s, read_count = await raw_read(source, batch)
            bodies, raw_bytes = await encoded_bodies(source, batch, fmt)
            post_s = await plain_post_loop(url, ca, client, bodies)
            before = await receiver_stats(url, ca, client)

            settings = SyncSection(enabled=True, endpoint=url, ca_file=ca.cert_file, cert_file=client.cert_file,
                                   key_file=client.key_file, batch_size=batch, idle_poll_s=0.01, format=fmt)
            worker = SyncWorker(settings, gateway_id=GATEWAY_ID, source=source,
                                deadletters=DeadLetterStore(db, time.time), progress=SyncProgress(db))
            started = time.perf_counter()
            task = asyncio.create_task(worker.run())
            while store.stats()["backlog_samples"] > 0 and not task.done():
                await asyncio.sleep(0.01)
            drain_s = time.perf_counter() - started
            status = worker.status()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            after = await receiver_stats(url, ca, client)
        finally:
            await store.close()
            await close_state_db(db)
            receiver.terminate()
            receiver.wait(10)

    wire_body_bytes = after["bytes_received"] - before["bytes_received"]
    delivered = after["unique_samples"] - before["unique_samples"]
    batches = after["batches"] - before["batches"]
    head = request_head_bytes(url, bodies[0][1], len(bodies[0][0])) if bodies else 0
    drain_rate = samples / drain_s
    read_rate = read_count / read_s
    post_rate = samples / post_s
    return {
        "benchmark": "sync_push_drain",
        "samples": samples,
        "batch_size": batch,
        "format": fmt,
        "fill_s": round(fill_s, 2),
        "drain_s": round(drain_s, 2),
        "drain_samples_per_s": round(drain_rate),
        "target_samples_per_s": 50_000,
        "meets_target": drain_rate >= 50_000,
        "delivered_unique_samples": delivered,
        "delivered_batches": batches,
        "worker_retries": status.retries,
        "duplicates_at_receiver": after["duplicates"],
        "wire_body_bytes_per_sample": round(wire_body_bytes / samples, 2),
        "wire_bytes_per_sample_with_http_head": round((wire_body_bytes + head * batches) / samples, 2),
        "uncompressed_body_bytes_per_sample": round(raw_bytes / samples, 2),
        "baseline_store_raw_read_samples_per_s": round(read_rate),
        "baseline_plain_post_loop_samples_per_s": round(post_rate),
        "ratio_drain_to_raw_read": round(drain_rate / read_rate, 3),
        "ratio_drain_to_plain_post": round(drain_rate / post_rate, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--format", choices=("ndjson+gzip", "json"), default="ndjson+gzip")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.samples, args.batch, args.format)), indent=2))


if __name__ == "__main__":
    main()
