"""The sync part inside a real gateway: the `sync` section of /api/v1/status, pull and push together on one
acked cursor, `edge-gateway sync status` from another process, and the [sync] config rules."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gateway.config.loader import ConfigError, validate_config_data
from gateway.factory import Gateway, create_gateway
from gateway.sync.receiver import RunningReceiver
from tests.gateway.sync.conftest import SyncCerts, put_and_flush, samples, wait_until
from tests.support.gateway import ApiClient, issue, make_config


def sync_section(certs: SyncCerts, endpoint: str, **overrides: Any) -> dict[str, Any]:
    section: dict[str, Any] = {
        "enabled": True, "endpoint": endpoint, "ca_file": str(certs.ca.cert_file),
        "cert_file": str(certs.client.cert_file), "key_file": str(certs.client.key_file), "batch_size": 200,
        "backoff_initial_s": 0.05, "backoff_max_s": 0.2, "idle_poll_s": 0.05,
    }
    section.update(overrides)
    return section


async def started(tmp_path: Path, **sections: Any) -> Gateway:
    gateway = await create_gateway(make_config(tmp_path / "state", **sections))
    await gateway.start()
    return gateway


async def status_sync(gateway: Gateway) -> dict[str, Any]:
    api = ApiClient(gateway.urls[0])
    try:
        reply = await api.request("GET", "/api/v1/status", token=await issue(gateway, "viewer"))
    finally:
        await api.close()
    assert reply.status == 200, reply.body
    return reply.json()["sync"]


async def test_status_says_disabled_by_default(tmp_path: Path) -> None:
    gateway = await started(tmp_path)
    try:
        section = await status_sync(gateway)
        assert section["enabled"] is False and section["state"] == "disabled"
        assert "sync" not in [part.name for part in gateway.supervisor.health()]
    finally:
        await gateway.stop()


async def test_gateway_pushes_its_buffer_and_reports_in_status_and_cli(
        certs: SyncCerts, receiver: RunningReceiver, tmp_path: Path) -> None:
    gateway = await started(tmp_path, sync=sync_section(certs, receiver.url))
    try:
        assert gateway.telemetry is not None
        await put_and_flush(gateway.telemetry, samples(700))
        await wait_until(lambda: receiver.receiver.unique_samples == 700, what="push of 700 samples")
        await wait_until(lambda: gateway.sync is not None and gateway.sync.status().state == "idle", what="idle")
        section = await status_sync(gateway)
        assert section["enabled"] is True and section["state"] == "idle"
        assert section["delivered_samples"] == 700 and section["delivered_batches"] == 4
        assert section["backlog"] == 0 and section["last_success_at"] is not None
        assert section["dead_letter_batches"] == 0 and section["endpoint"] == receiver.url
        assert gateway.telemetry.stats()["backlog_samples"] == 0
    finally:
        await gateway.stop()

    config = tmp_path / "gateway.toml"
    config.write_text(
        f'[gateway]\nid = "gw-test-01"\nstate_dir = "{tmp_path / "state"}"\n'
        f"[sync]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in sync_section(certs, receiver.url).items()))
    shown = subprocess.run([sys.executable, "-m", "gateway", "sync", "status", "--config", str(config)],
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert "idle" in shown.stdout and "700 delivered" in shown.stdout and "0 samples in the buffer" in shown.stdout
    as_json = subprocess.run([sys.executable, "-m", "gateway", "sync", "status", "--json", "--config", str(config)],
                             capture_output=True, text=True, timeout=60)
    report = json.loads(as_json.stdout)
    assert report["state"] == "idle" and report["delivered_samples"] == 700 and report["dead_letter_batches"] == 0


async def test_pull_and_push_share_the_acked_cursor(
        certs: SyncCerts, receiver: RunningReceiver, tmp_path: Path) -> None:
    receiver.receiver.behaviour.unavailable = True  # push waits while the connector pulls
    gateway = await started(tmp_path, sync=sync_section(certs, receiver.url, batch_size=100))
    api = ApiClient(gateway.urls[0])
    try:
        assert gateway.telemetry is not None
        await put_and_flush(gateway.telemetry, samples(1000))
        token = await issue(gateway, "sync")
        page = (await api.request("GET", "/api/v1/telemetry?limit=400", token=token)).json()
        ack = await api.request("POST", "/api/v1/telemetry/ack", token=token, json={"cursor": page["next"]})
        assert ack.status == 200
        pulled = [item["seq"] for item in page["items"]]
        receiver.receiver.behaviour.unavailable = False
        await wait_until(lambda: gateway.telemetry is not None and gateway.telemetry.stats()["backlog_samples"] == 0,
                         what="buffer emptied by push")
        pushed = {item["seq"] for item in receiver.receiver.delivered()}
        assert set(pulled) | pushed == set(range(1, 1001))  # nothing lost between the two
        assert pushed >= set(range(401, 1001))
        assert len(pushed & set(pulled)) <= 100  # at most the one batch already in flight before the pull ack
    finally:
        await api.close()
        await gateway.stop()


@pytest.mark.parametrize(("changes", "expected"), [
    ({"endpoint": "http://ingest.example.com/v1"}, "https"),
    ({"endpoint": "https://user:pw@ingest.example.com/v1"}, "credentials"),
    ({"cert_file": None}, "cert_file"),
    ({"ca_file": "/nonexistent/ca.pem"}, "file not found"),
    ({"format": "xml"}, "format"),
    ({"batch_size": 0}, "batch_size"),
    ({"backoff_initial_s": 10, "backoff_max_s": 1}, "backoff_initial_s"),
    ({"surprise": 1}, "surprise"),
])
def test_bad_sync_config_is_refused_with_the_key_named(
        certs: SyncCerts, changes: dict[str, Any], expected: str) -> None:
    section = {k: v for k, v in {**sync_section(certs, "https://ingest.example.com/v1"), **changes}.items()
               if v is not None}
    with pytest.raises(ConfigError) as caught:
        validate_config_data({"sync": section}, source="test", base_dir=None)
    assert any(str(issue).startswith("sync") and expected in str(issue) for issue in caught.value.issues), \
        caught.value.issues
