"""Certificate problems stop sync with a plain status message and lose nothing.

Each case is real TLS on loopback: a client certificate from another CA, an expired server certificate,
a server certificate for another host name. The buffer keeps every row; the receiver records nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gateway.sync import const
from gateway.sync.receiver import RunningReceiver, start_receiver
from tests.gateway.sync.conftest import HarnessFactory, SyncCerts, samples, sync_settings, wait_until
from tests.support.certs import Issued


async def _stopped_with(harness: HarnessFactory, certs: SyncCerts, receiver: RunningReceiver,
                        **settings: object) -> str:
    h = await harness(sync_settings(certs, receiver.url, **settings))
    await h.append(samples(300))
    h.start()
    await wait_until(lambda: h.worker.status().state == "stopped", what="sync stopped")
    status = h.worker.status()
    assert receiver.receiver.batches == {}
    assert await h.source.backlog() == 300  # nothing lost, nothing acked
    assert (await h.source.acked_cursor()).seq == 0
    assert status.delivered_samples == 0 and status.dead_letter_batches == 0
    snapshot = await h.progress.read_snapshot()  # what `edge-gateway sync status` shows
    assert snapshot is not None and snapshot[1]["state"] == "stopped"
    assert status.message is not None and snapshot[1]["message"] == status.message
    return status.message


async def test_wrong_client_certificate_is_refused_and_reported(
        certs: SyncCerts, receiver: RunningReceiver, harness: HarnessFactory) -> None:
    message = await _stopped_with(harness, certs, receiver, client=certs.rogue_client)
    assert message.startswith("sync stopped: the endpoint refused our client certificate")
    assert "Data stays buffered" in message


async def test_expired_server_certificate_is_refused_and_reported(
        certs: SyncCerts, harness: HarnessFactory) -> None:
    expired = await _receiver_with(certs, certs.expired_server)
    try:
        message = await _stopped_with(harness, certs, expired)
    finally:
        await expired.stop()
    assert message.startswith("sync stopped: server certificate rejected: certificate has expired")


async def test_wrong_hostname_is_refused_and_reported(certs: SyncCerts, harness: HarnessFactory) -> None:
    wrong = await _receiver_with(certs, certs.wrong_host_server)
    try:
        message = await _stopped_with(harness, certs, wrong)
    finally:
        await wrong.stop()
    assert message.startswith("sync stopped: server certificate rejected:")
    assert "mismatch" in message  # "IP address mismatch, certificate is not valid for '127.0.0.1'"


async def test_missing_key_file_stops_sync_and_new_files_resume_it(
        certs: SyncCerts, receiver: RunningReceiver, harness: HarnessFactory, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    client = Issued(tmp_path / "client.pem", tmp_path / "client.key")
    client.cert_file.write_bytes(certs.client.cert_file.read_bytes())
    client.key_file.write_bytes(certs.rogue_client.key_file.read_bytes())  # does not match the certificate
    monkeypatch.setattr(const, "CERT_RECHECK_INTERVAL_S", 0.05)
    h = await harness(sync_settings(certs, receiver.url, client=client))
    await h.append(samples(200))
    h.start()
    await wait_until(lambda: h.worker.status().state == "stopped", what="sync stopped")
    assert "client certificate or key unusable" in (h.worker.status().message or "")

    client.key_file.write_bytes(certs.client.key_file.read_bytes())  # provisioning installs the right key
    os.utime(client.key_file, ns=(1, 1))
    await wait_until(lambda: receiver.receiver.unique_samples == 200, what="delivery after the fix")
    assert h.worker.status().message is None


async def _receiver_with(certs: SyncCerts, server: Issued) -> RunningReceiver:
    return await start_receiver(ca_file=certs.ca.cert_file, cert_file=server.cert_file, key_file=server.key_file)
