"""Benchmark of the telemetry buffer (issue 6). Prints one JSON object; asserts nothing.

- Sustained ingest through the producer interface (`put` of ready `Sample` objects) into the real gateway's store
  (in process, HTTPS API serving and polled while it runs), until every sample is committed, next to
  raw sqlite3 `executemany` of the same rows (same schema, pragmas and batch size) in the same run.
  Targets: >= 200k samples/s and >= 30 % of raw.
- Pull drain of the resulting backlog (1M samples by default) over HTTPS with 5k-sample pages, each
  page acked (deleted) like a connector would. Target: >= 50k samples/s.
- Bytes on disk per sample (target <= 40 B), and bytes written per sample (write(2)/pwrite(2) bytes of the
  process, from /proc/self/io: WAL, checkpoints, deletes on ack) over ingest + drain.

Run: .venv/bin/python bench/bench_telemetry.py [--samples 1000000] [--page 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sqlite3
import ssl
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.config.loader import validate_config_data  # noqa: E402
from gateway.factory import create_gateway  # noqa: E402
from gateway.telemetry import schema  # noqa: E402
from gateway.telemetry.budget import budget_pragmas  # noqa: E402
from gateway.telemetry.connection import file_bytes  # noqa: E402
from gateway.telemetry.sink import Sample  # noqa: E402
from tests.support.certs import TestCA  # noqa: E402
from tests.support.gateway import issue  # noqa: E402

PRODUCER_BURST = 1_000
"""Samples a producer puts between two yields to the event loop (a control loop tick puts far fewer)."""
SERIES = [("extruder", f"zone{z}.{m}") for z in range(4) for m in ("temp_c", "output", "setpoint_c")] + [
    (f"printer:01S00C12345678{p}", m) for p in range(4) for m in ("nozzle_c", "bed_c", "progress_pct")]
BASE_TS = 1_790_000_000.0


def proc_io() -> dict[str, int]:
    values = {}
    for line in Path("/proc/self/io").read_text().splitlines():
        key, value = line.split(":")
        values[key] = int(value)
    return values


def sample_fields(i: int) -> tuple[float, str, str, float]:
    source, metric = SERIES[i % len(SERIES)]
    return BASE_TS + i / 1000, source, metric, 20.0 + (i % 2000) / 10


DRAIN_CLIENT = """
import asyncio, json, ssl, sys, time
import aiohttp
async def main(url, token, cafile, page):
    context = ssl.create_default_context(cafile=cafile)
    headers = {"Authorization": f"Bearer {token}"}
    drained, cursor, pages = 0, None, 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as session:
        started = time.perf_counter()
        while True:
            query = f"?limit={page}" + (f"&after={cursor}" if cursor else "")
            async with session.get(f"{url}/api/v1/telemetry{query}", headers=headers) as response:
                body = json.loads(await response.read())
            drained += len(body["items"])
            pages += 1
            cursor = body["next"]
            async with session.post(f"{url}/api/v1/telemetry/ack", json={"cursor": cursor}, headers=headers) as ack:
                assert ack.status == 200, await ack.read()
            if not body["more"]:
                break
        elapsed = time.perf_counter() - started
    print(json.dumps({"samples": drained, "pages": pages, "seconds": round(elapsed, 2),
                      "samples_per_s": round(drained / elapsed)}))
asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
"""


async def drain_in_subprocess(url: str, token: str, cafile: Path, page: int) -> dict[str, Any]:
    """The connector runs in its own process (as it does on another machine): pull 5k pages, ack each."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", DRAIN_CLIENT, url, token, str(cafile), str(page), stdout=asyncio.subprocess.PIPE)
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"drain client failed ({process.returncode})")
    return dict(json.loads(out))


def raw_executemany(path: Path, count: int, batch: int) -> float:
    """The same rows into the same schema with the same pragmas, by plain sqlite3: samples/s."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    for statement in budget_pragmas(256 * 1024 * 1024, batch).statements():
        conn.execute(statement)
    for statement in schema.CREATE_STATEMENTS:
        conn.execute(statement)
    ids = {names: n + 1 for n, names in enumerate(SERIES)}
    conn.executemany(schema.INSERT_SERIES, [(i, s, m) for (s, m), i in ids.items()])
    rows = []
    for i in range(count):
        ts, source, metric, value = sample_fields(i)
        rows.append((i + 1, int(ts * 1000), ids[(source, metric)], value))
    started = time.perf_counter()
    for offset in range(0, count, batch):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(schema.INSERT_SAMPLE, rows[offset:offset + batch])
        conn.execute(schema.SET_META, (schema.META_LAST_SEQ, rows[min(offset + batch, count) - 1][0]))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return count / elapsed


async def poll_status(url: str, token: str, ssl_context: ssl.SSLContext, stop: asyncio.Event) -> int:
    done = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ssl_context)) as session:
        while not stop.is_set():
            async with session.get(url, headers={"Authorization": f"Bearer {token}"}) as response:
                await response.read()
                done += response.status == 200
            await asyncio.sleep(0.05)
    return done


async def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    ca = TestCA(tmp / "ca")
    cert = ca.issue("gw-bench-01", hosts=("127.0.0.1",))
    client_ssl = ssl.create_default_context(cafile=str(ca.cert_file))
    config = validate_config_data({
        "gateway": {"id": "gw-bench-01", "state_dir": str(tmp / "state"), "log_level": "warning"},
        "http": {"listen": [{"host": "127.0.0.1", "port": 0}],
                 "tls": {"cert_file": str(cert.cert_file), "key_file": str(cert.key_file)}},
        "telemetry": {"max_bytes": 512 * 1024 * 1024, "max_pending": 2_000_000},
    }, source="bench", base_dir=None)
    raw_before = raw_executemany(tmp / "raw-before.db", args.samples, config.telemetry.batch_size)
    gateway = await create_gateway(config)
    await gateway.start()
    store = gateway.telemetry
    assert store is not None
    url = gateway.urls[0]
    try:
        viewer = await issue(gateway, "viewer")
        sync = await issue(gateway, "sync")
        io_before = proc_io()

        stop = asyncio.Event()
        poller = asyncio.create_task(poll_status(f"{url}/api/v1/status", viewer, client_ssl, stop))
        await asyncio.sleep(0.5)
        count = args.samples
        # The producers' Sample objects exist before the clock starts, as raw's row tuples do; what their
        # construction costs is reported on its own below.
        built = time.perf_counter()
        batch = [Sample(*sample_fields(i)) for i in range(count)]
        construction_rate = count / (time.perf_counter() - built)
        put = store.put
        started = time.perf_counter()
        for offset in range(0, count, PRODUCER_BURST):
            for sample in batch[offset:offset + PRODUCER_BURST]:
                put(sample)
            await asyncio.sleep(0)
        put_done = time.perf_counter()
        while store.committed_seq < count:
            await asyncio.sleep(0.001)
        ingest_s = time.perf_counter() - started
        stop.set()
        status_polls = await poller
        stats = store.stats()
        db_path = store.path
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
            pages = conn.execute("PRAGMA page_count").fetchone()[0] - conn.execute("PRAGMA freelist_count").fetchone()[0]
        used_bytes_per_sample = pages * 4096 / count
        disk_bytes_per_sample = file_bytes(db_path) / count

        drain = await drain_in_subprocess(url, sync, ca.cert_file, args.page)
        backlog_after = store.stats()["backlog_samples"]
    finally:
        await gateway.stop()
    io_after = proc_io()
    raw_after = raw_executemany(tmp / "raw-after.db", count, config.telemetry.batch_size)
    raw_rate = (raw_before + raw_after) / 2  # the machine's load drifts: raw is measured before and after
    ingest_rate = count / ingest_s
    return {
        "benchmark": "telemetry_buffer",
        "samples": count,
        "durability": config.telemetry.durability,
        "batch_size": config.telemetry.batch_size,
        "flush_interval_ms": config.telemetry.flush_interval_ms,
        "ingest": {
            "samples_per_s": round(ingest_rate),
            "put_only_samples_per_s": round(count / (put_done - started)),
            "sample_construction_per_s": round(construction_rate),
            "raw_executemany_samples_per_s": round(raw_rate),
            "raw_before_and_after": [round(raw_before), round(raw_after)],
            "ratio_to_raw": round(ingest_rate / raw_rate, 3),
            "status_polls_served_meanwhile": status_polls,
            "dropped": stats["dropped_samples"] + stats["dropped_pending"] + stats["rejected_samples"],
            "flushes": stats["flushes"],
        },
        "drain": {
            **drain,
            "page": args.page,
            "backlog_after": backlog_after,
        },
        "bytes_on_disk_per_sample": round(disk_bytes_per_sample, 1),
        "bytes_in_use_per_sample": round(used_bytes_per_sample, 1),
        "bytes_written_per_sample_ingest_and_ack": round((io_after["wchar"] - io_before["wchar"]) / count, 1),
        "block_bytes_written_per_sample": round((io_after["write_bytes"] - io_before["write_bytes"]) / count, 1),
        "targets": {"ingest_samples_per_s_min": 200_000, "ratio_to_raw_min": 0.3, "drain_samples_per_s_min": 50_000,
                    "bytes_on_disk_per_sample_max": 40},
        "cpu_count": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--page", type=int, default=5_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(run(args, Path(tmp)))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
