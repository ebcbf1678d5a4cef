"""Delivery over real mutual TLS: every sample once, 429 + Retry-After honoured, a 400 batch dead-lettered."""

from __future__ import annotations

from gateway.sync.receiver import RunningReceiver
from tests.gateway.sync.conftest import GATEWAY_ID, HarnessFactory, SyncCerts, samples, sync_settings, wait_until


async def test_backlog_delivered_once_in_order_with_key_in_header_and_body(
        certs: SyncCerts, receiver: RunningReceiver, harness: HarnessFactory) -> None:
    h = await harness(sync_settings(certs, receiver.url, batch_size=300))
    await h.append(samples(1000))
    h.start()
    await wait_until(lambda: receiver.receiver.unique_samples == 1000, what="1000 samples delivered")
    await wait_until(lambda: h.worker.status().state == "idle", what="idle")

    got = receiver.receiver.delivered()
    assert [item["seq"] for item in got] == list(range(1, 1001))
    assert got[0] == {"seq": 1, "ts": 1_763_900_000.0, "source": "extruder", "metric": "zone0.temp_c", "value": 200.0}
    keys = list(receiver.receiver.batches)
    assert keys == [f"{GATEWAY_ID}:{h.epoch}:1-300", f"{GATEWAY_ID}:{h.epoch}:301-600", f"{GATEWAY_ID}:{h.epoch}:601-900",
                    f"{GATEWAY_ID}:{h.epoch}:901-1000"]
    assert {b.client for b in receiver.receiver.batches.values()} == {GATEWAY_ID}  # our client certificate
    assert receiver.receiver.duplicate_keys == []
    assert await h.source.backlog() == 0  # acked -> deleted
    status = h.worker.status()
    assert status.delivered_samples == 1000 and status.delivered_batches == 4
    assert status.backlog == 0 and status.lag_s == 0.0 and status.last_success_at is not None
    assert status.rate_samples_per_s > 0


async def test_json_format_delivers_too(certs: SyncCerts, receiver: RunningReceiver, harness: HarnessFactory) -> None:
    h = await harness(sync_settings(certs, receiver.url, format="json"))
    await h.append(samples(120))
    h.start()
    await wait_until(lambda: receiver.receiver.unique_samples == 120, what="delivery")
    assert [item["seq"] for item in receiver.receiver.delivered()] == list(range(1, 121))


async def test_429_retry_after_is_honoured(certs: SyncCerts, receiver: RunningReceiver, harness: HarnessFactory) -> None:
    receiver.receiver.behaviour.throttle = 2
    receiver.receiver.behaviour.retry_after = "1"
    # backoff alone would retry within 0.2 s: only Retry-After can explain waits of a second
    h = await harness(sync_settings(certs, receiver.url, backoff_initial_s=0.05, backoff_max_s=0.1))
    await h.append(samples(100))
    h.start()
    await wait_until(lambda: receiver.receiver.unique_samples == 100, what="delivery after throttling")
    attempts = receiver.receiver.attempts
    assert [a.status for a in attempts] == [429, 429, 200]
    assert attempts[1].at - attempts[0].at >= 0.95
    assert attempts[2].at - attempts[1].at >= 0.95
    assert len({a.key for a in attempts}) == 1  # the same batch, the same key
    assert h.worker.status().retries == 2


async def test_400_batch_goes_to_dead_letter_and_the_rest_flows(
        certs: SyncCerts, receiver: RunningReceiver, harness: HarnessFactory) -> None:
    receiver.receiver.behaviour.reject_seqs = {250}  # poisons the batch 201-300
    h = await harness(sync_settings(certs, receiver.url, batch_size=100, max_attempts=3))
    await h.append(samples(500))
    h.start()
    await wait_until(lambda: receiver.receiver.unique_samples == 400 and h.worker.status().state == "idle",
                     what="the other 400 samples")
    poisoned = f"{GATEWAY_ID}:{h.epoch}:201-300"
    assert [a.status for a in receiver.receiver.attempts if a.key == poisoned] == [400, 400, 400]
    assert poisoned not in receiver.receiver.batches
    delivered = [item["seq"] for item in receiver.receiver.delivered()]
    assert delivered == [*range(1, 201), *range(301, 501)]

    dead = await h.deadletters.list()
    assert [(d.key, d.first_seq, d.last_seq, d.count) for d in dead] == [(poisoned, 201, 300, 100)]
    assert "HTTP 400" in dead[0].reason
    body = await h.deadletters.body(poisoned)
    assert body is not None and body[:2] == b"\x1f\x8b"  # the rows, set aside as gzip NDJSON
    status = h.worker.status()
    assert status.dead_letter_batches == 1 and status.dead_letter_samples == 100
    assert await h.source.backlog() == 0


async def test_503_is_retried_until_it_clears_and_never_dead_lettered(
        certs: SyncCerts, receiver: RunningReceiver, harness: HarnessFactory) -> None:
    receiver.receiver.behaviour.unavailable = True
    h = await harness(sync_settings(certs, receiver.url, max_attempts=2))
    await h.append(samples(50))
    h.start()
    await wait_until(lambda: len(receiver.receiver.attempts) >= 6, what="several 503s")
    assert h.worker.status().state in ("backing_off", "sending")
    assert h.worker.status().dead_letter_batches == 0  # 503 never dead-letters
    assert await h.source.backlog() == 50
    receiver.receiver.behaviour.unavailable = False
    await wait_until(lambda: receiver.receiver.unique_samples == 50, what="delivery after 503s")
    assert h.worker.status().dead_letter_batches == 0
    assert receiver.receiver.duplicate_keys == []


async def test_an_in_flight_note_of_an_older_buffer_epoch_is_ignored(
        certs: SyncCerts, receiver: RunningReceiver, harness: HarnessFactory) -> None:
    from gateway.sync.progress import InFlight

    h = await harness(sync_settings(certs, receiver.url, batch_size=100))
    await h.progress.ensure_schema()
    await h.progress.set_inflight(InFlight("0123456789abcdef", 5, 50, f"{GATEWAY_ID}:0123456789abcdef:5-50"), 1.0)
    await h.append(samples(150))
    h.start()
    await wait_until(lambda: receiver.receiver.unique_samples == 150 and h.worker.status().state == "idle",
                     what="delivery from the current epoch")
    assert list(receiver.receiver.batches) == [f"{GATEWAY_ID}:{h.epoch}:1-100", f"{GATEWAY_ID}:{h.epoch}:101-150"]
    assert await h.progress.inflight() is None  # the stale note was dropped
