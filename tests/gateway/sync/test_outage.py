"""A one-hour outage of the endpoint, simulated: the backlog is drained completely once it returns.

Simulated time: the worker gets an injected wall clock, monotonic clock and sleep that move a simulated
clock forward instead of waiting, so one hour of outage with the real default back-off (1 s doubling to
5 min, full jitter) runs in seconds. Everything else is real: mutual TLS on loopback, the reference
receiver answering 503 for the whole hour, the telemetry store's buffer growing at 25 samples per
simulated second. When the endpoint returns, its first three responses are lost (connection dropped after
the body was read and stored): those batches, and only those, arrive twice, with the same key.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from gateway.sync import const
from gateway.sync.receiver import RunningReceiver
from tests.gateway.sync.conftest import HarnessFactory, SyncCerts, sync_settings, wait_until

OUTAGE_S = 3600.0
AFTER_OUTAGE_S = 300.0
SAMPLES_PER_S = 25
LOST_RESPONSES = 3
T0 = 1_763_900_000.0


class SimulatedTime:
    """Wall and monotonic clocks that only move when the worker sleeps."""

    def __init__(self) -> None:
        self.now = T0
        self.mono = 10_000.0
        self.on_sleep: list = []

    def clock(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.mono

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.mono += seconds
        for hook in self.on_sleep:
            await hook()
        await asyncio.sleep(0)


async def test_one_hour_outage_is_drained_completely_with_duplicates_only_for_lost_responses(
        certs: SyncCerts, receiver: RunningReceiver, harness: HarnessFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(const, "TLS_PROBE_TIMEOUT_S", 0.2)
    time = SimulatedTime()
    defaults = {"batch_size": 5000, "backoff_initial_s": 1.0, "backoff_max_s": 300.0, "idle_poll_s": 1.0}
    h = await harness(sync_settings(certs, receiver.url, **defaults), clock=time.clock, monotonic=time.monotonic,
                      sleep=time.sleep, rng=random.Random(7).random)
    produced: list[tuple[float, str, str, float]] = []
    at_recovery: dict[str, object] = {}

    async def produce() -> None:  # the printers keep measuring while the uplink is down
        end = min(time.now, T0 + OUTAGE_S + AFTER_OUTAGE_S)
        start = T0 + len(produced) / SAMPLES_PER_S
        rows = [(start + i / SAMPLES_PER_S, "printer:01S00C1", "nozzle_c", 200.0 + i % 7)
                for i in range(int((end - start) * SAMPLES_PER_S))]
        if rows:
            produced.extend(rows)
            await h.append(rows)

    async def endpoint_returns() -> None:
        if receiver.receiver.behaviour.unavailable and time.now >= T0 + OUTAGE_S:
            at_recovery["status"] = h.worker.status()
            at_recovery["backlog"] = await h.source.backlog()
            receiver.receiver.behaviour.unavailable = False
            receiver.receiver.behaviour.drop_responses = LOST_RESPONSES

    time.on_sleep += [produce, endpoint_returns]
    receiver.receiver.behaviour.unavailable = True
    await produce()
    h.start()
    await wait_until(lambda: time.now >= T0 + OUTAGE_S + AFTER_OUTAGE_S and h.worker.status().state == "idle"
                     and h.worker.status().backlog == 0, timeout_s=45, what="backlog drained after the outage")

    # the outage really lasted an hour of (simulated) time, with the data piling up
    status = at_recovery["status"]
    assert status.state == "backing_off" and status.message == "HTTP 503"
    assert status.lag_s >= OUTAGE_S - 300  # the oldest undelivered sample was about an hour old
    assert status.retries >= 10 and status.delivered_samples == 0
    assert at_recovery["backlog"] >= OUTAGE_S * SAMPLES_PER_S * 0.9
    outage_attempts = [a for a in receiver.receiver.attempts if a.status == 503]
    assert len(outage_attempts) >= 10

    # every sample delivered, in order, exactly once after deduplication by key
    got = receiver.receiver.delivered()
    assert len(got) == len(produced) >= (OUTAGE_S + AFTER_OUTAGE_S) * SAMPLES_PER_S * 0.99
    assert [item["seq"] for item in got] == list(range(1, len(produced) + 1))
    assert [item["value"] for item in got] == [row[3] for row in produced]
    assert all(abs(item["ts"] - row[0]) <= 0.0011 for item, row in zip(got, produced))  # the store keeps ms
    # duplicates only where a response was lost, and then with the same idempotency key
    assert len(receiver.receiver.dropped_keys) == LOST_RESPONSES
    assert receiver.receiver.duplicate_keys == receiver.receiver.dropped_keys
    assert all(batch.times == 1 for key, batch in receiver.receiver.batches.items()
               if key not in receiver.receiver.dropped_keys)
    assert await h.source.backlog() == 0
    assert h.worker.status().delivered_samples == len(produced)
