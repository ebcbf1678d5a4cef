"""SIGKILL of a process that is pushing: after restart nothing is lost, and a batch that may have arrived
is re-sent only as the very same batch (same rows, same idempotency key), so the receiver drops it.

A real subprocess runs the worker against the telemetry store's file and a state database; the reference receiver
answers slowly (it stores each batch, then waits before answering), and the process is killed while a
batch is in flight, three times at different points, then restarted to drain the rest.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from gateway.sync.receiver import RunningReceiver
from gateway.telemetry.inspect import read_stats
from gateway.telemetry.store import TelemetryStore
from tests.gateway.sync.conftest import SyncCerts, buffer_settings, put_and_flush, samples, wait_until

TOTAL = 12_000
BATCH = 500
KILLS = 3
WORKER = Path(__file__).with_name("worker_proc.py")


def start_worker(tmp_path: Path, certs: SyncCerts, endpoint: str) -> subprocess.Popen[bytes]:
    settings = {"enabled": True, "endpoint": endpoint, "ca_file": str(certs.ca.cert_file),
                "cert_file": str(certs.client.cert_file), "key_file": str(certs.client.key_file),
                "batch_size": BATCH, "backoff_initial_s": 0.05, "backoff_max_s": 0.2, "idle_poll_s": 0.05}
    return subprocess.Popen([sys.executable, str(WORKER), str(tmp_path / "buffer.db"), str(tmp_path / "state.db"),
                             json.dumps(settings)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def buffer_backlog(path: Path) -> int:
    return int(read_stats(path)["rows"])


async def test_sigkill_during_push_loses_nothing(certs: SyncCerts, receiver: RunningReceiver, tmp_path: Path) -> None:
    store = await TelemetryStore.open(tmp_path / "buffer.db", buffer_settings())
    try:
        await put_and_flush(store, samples(TOTAL))
    finally:
        await store.close()
    got = receiver.receiver
    got.behaviour.delay_s = 0.4  # stored, then a slow answer: kills land while the batch is in flight
    in_flight_at_kill: list[str] = []
    for kill in range(KILLS):
        process = start_worker(tmp_path, certs, receiver.url)
        try:
            seen = len(got.attempts)
            await wait_until(lambda: len(got.attempts) >= seen + 2 + kill and got.in_flight == 1,
                             timeout_s=30, what="a push in flight")
            await asyncio.sleep(0.1 * kill)  # a different point in the request each time
            # the batch in flight, and the one before it (its ack runs while the next batch is sent)
            in_flight_at_kill.extend(list(got.batches)[-2:])
            os.kill(process.pid, signal.SIGKILL)
        finally:
            process.kill()
            process.wait(10)
        assert process.returncode == -signal.SIGKILL
    assert buffer_backlog(tmp_path / "buffer.db") > 0  # killed before the end: work left for the restart

    got.behaviour.delay_s = 0.0
    process = start_worker(tmp_path, certs, receiver.url)
    try:
        await wait_until(lambda: got.unique_samples == TOTAL, timeout_s=40, what="all samples after restart")
        await wait_until(lambda: buffer_backlog(tmp_path / "buffer.db") == 0, timeout_s=10, what="buffer acked")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(10)

    delivered = got.delivered()
    assert [item["seq"] for item in delivered] == list(range(1, TOTAL + 1))  # nothing lost, nothing twice
    # every duplicate was a batch caught in flight by a kill, re-sent with the same key
    assert got.duplicate_keys and set(got.duplicate_keys) <= set(in_flight_at_kill)
    assert len(got.duplicate_keys) <= 2 * KILLS
    seqs_by_key = [item["seq"] for items in got.items.values() for item in items]
    assert len(seqs_by_key) == len(set(seqs_by_key)) == TOTAL  # no two keys ever covered the same sample
