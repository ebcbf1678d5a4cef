"""The reference receiver: client certificates required, bad batches and bad control input get 400."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import aiohttp
import pytest

from gateway.sync.batch import Batch, SyncRow, encode_batch
from gateway.sync.receiver import BEHAVIOUR_PATH, STATS_PATH, RunningReceiver
from gateway.sync.tls import client_context
from tests.gateway.sync.conftest import SyncCerts


@pytest.fixture
async def session(certs: SyncCerts) -> AsyncIterator[aiohttp.ClientSession]:
    context = client_context(ca_file=certs.ca.cert_file, cert_file=certs.client.cert_file,
                             key_file=certs.client.key_file)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as opened:
        yield opened


def base(receiver: RunningReceiver) -> str:
    return receiver.url.rsplit("/v1/", 1)[0]


async def test_a_client_without_certificate_is_refused(certs: SyncCerts, receiver: RunningReceiver) -> None:
    context = ssl.create_default_context(cafile=str(certs.ca.cert_file))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as anonymous:
        with pytest.raises(aiohttp.ClientError):
            async with anonymous.post(receiver.url, data=b"{}") as response:
                await response.read()
    assert receiver.receiver.batches == {}


async def test_header_key_must_match_the_body(receiver: RunningReceiver, session: aiohttp.ClientSession) -> None:
    encoded = encode_batch(Batch("gw-01", "00ab", [SyncRow(1, 1.0, "s", "m", 1.0)]), "json")
    headers = {**encoded.headers, "Idempotency-Key": "gw-01:00ab:1-9"}
    async with session.post(receiver.url, data=encoded.body, headers=headers) as response:
        assert response.status == 400
        assert "does not match" in (await response.json())["status"]
    async with session.post(receiver.url, data=b"garbage", headers={"Content-Type": "application/json"}) as response:
        assert response.status == 400
    async with session.post(receiver.url, data=encoded.body, headers=encoded.headers) as response:
        assert response.status == 200 and (await response.json())["status"] == "stored"
    async with session.post(receiver.url, data=encoded.body, headers=encoded.headers) as response:
        assert response.status == 200 and (await response.json())["status"] == "duplicate"
    async with session.get(base(receiver) + STATS_PATH) as response:
        stats = await response.json()
    assert (stats["batches"], stats["unique_samples"], stats["duplicates"], stats["attempts"]) == (1, 1, 1, 4)


async def test_behaviour_is_switched_over_http_and_bad_fields_are_refused(
        receiver: RunningReceiver, session: aiohttp.ClientSession) -> None:
    async with session.put(base(receiver) + BEHAVIOUR_PATH, json={"unavailable": True, "reject_seqs": [5]}) as response:
        assert response.status == 200
    assert receiver.receiver.behaviour.unavailable is True and receiver.receiver.behaviour.reject_seqs == {5}
    async with session.put(base(receiver) + BEHAVIOUR_PATH, json={"explode": True}) as response:
        assert response.status == 400
        assert "explode" in (await response.json())["error"]["message"]
    async with session.put(base(receiver) + BEHAVIOUR_PATH, data=b"not json") as response:
        assert response.status == 400


async def test_runs_as_a_module_and_stops_on_sigterm(certs: SyncCerts, session: aiohttp.ClientSession) -> None:
    import asyncio
    import signal
    import subprocess
    import sys

    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.sync.receiver", "--ca", str(certs.ca.cert_file), "--cert",
         str(certs.server.cert_file), "--key", str(certs.server.key_file), "--reject-seq", "7"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 30)
        url = line.rsplit(" ", 1)[1].strip()
        assert url.startswith("https://127.0.0.1:") and url.endswith("/v1/batches")
        for first, status in ((1, 200), (6, 400)):
            rows = [SyncRow(seq, float(seq), "s", "m", 1.0) for seq in range(first, first + 3)]
            encoded = encode_batch(Batch("gw-01", "00ab", rows), "ndjson+gzip")
            async with session.post(url, data=encoded.body, headers=encoded.headers) as response:
                assert response.status == status
        async with session.get(url.rsplit("/v1/", 1)[0] + STATS_PATH) as response:
            assert (await response.json())["unique_samples"] == 3
        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 15) == 0
    finally:
        process.kill()
        process.wait(10)
