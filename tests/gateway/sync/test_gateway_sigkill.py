"""SIGKILL of the real gateway service while its sync part is pushing: after restart nothing is lost.

`python -m gateway serve` with [sync] enabled and a buffer of 6000 samples; the reference receiver stores
each batch and answers slowly; the service is killed while a batch is in flight, then started again and
drains the rest. Only batches caught by the kill arrive twice, with their own key.
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
from tests.support.net import free_port

TOTAL = 6000


def write_config(tmp_path: Path, certs: SyncCerts, endpoint: str) -> Path:
    sync = {"enabled": True, "endpoint": endpoint, "ca_file": str(certs.ca.cert_file),
            "cert_file": str(certs.client.cert_file), "key_file": str(certs.client.key_file), "batch_size": 500,
            "backoff_initial_s": 0.05, "backoff_max_s": 0.2, "idle_poll_s": 0.05}
    path = tmp_path / "config.toml"
    path.write_text(f'[gateway]\nid = "gw-sync-01"\nstate_dir = "{tmp_path / "state"}"\n'
                    f'[http]\nlisten = [{{ host = "127.0.0.1", port = {free_port()} }}]\n'
                    "[sync]\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in sync.items()))
    return path


def serve(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--config", str(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def test_sigkill_of_the_gateway_during_a_push_loses_nothing(
        certs: SyncCerts, receiver: RunningReceiver, tmp_path: Path) -> None:
    buffer = tmp_path / "state" / "telemetry.db"
    buffer.parent.mkdir(mode=0o700)
    store = await TelemetryStore.open(buffer, buffer_settings())
    try:
        await put_and_flush(store, samples(TOTAL))
    finally:
        await store.close()
    config = write_config(tmp_path, certs, receiver.url)
    got = receiver.receiver
    got.behaviour.delay_s = 0.4

    process = serve(config)
    try:
        await wait_until(lambda: len(got.batches) >= 2 and got.in_flight == 1, timeout_s=40, what="a push in flight")
        caught = list(got.batches)[-2:]  # in flight, and the one whose ack may still have been running
        os.kill(process.pid, signal.SIGKILL)
        assert await asyncio.to_thread(process.wait, 10) == -signal.SIGKILL
    finally:
        process.kill()
        process.wait(10)
    assert read_stats(buffer)["rows"] > 0

    got.behaviour.delay_s = 0.0
    process = serve(config)
    try:
        await wait_until(lambda: got.unique_samples == TOTAL, timeout_s=40, what="every sample after restart")
        await wait_until(lambda: read_stats(buffer)["rows"] == 0, timeout_s=10, what="buffer acked")
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 20) == 0
    assert [item["seq"] for item in got.delivered()] == list(range(1, TOTAL + 1))
    assert set(got.duplicate_keys) <= set(caught)
