"""What the buffer had to drop reaches the cloud as gap markers, and odd values survive the trip."""

from __future__ import annotations

import math

from gateway.sync.receiver import RunningReceiver
from gateway.telemetry.config import TelemetrySection
from tests.gateway.sync.conftest import HarnessFactory, SyncCerts, sync_settings, wait_until

T0 = 1_790_000_000.0


async def test_gap_markers_and_non_finite_values_are_pushed(
        certs: SyncCerts, receiver: RunningReceiver, harness: HarnessFactory) -> None:
    small = TelemetrySection(max_bytes=256 * 1024, batch_size=500, max_pending=50_000)  # overflows: drop_oldest
    h = await harness(sync_settings(certs, receiver.url, batch_size=2000), buffer=small)
    for offset in range(0, 30_000, 500):
        await h.append([(T0 + (offset + i) / 1000, "extruder", "zone0.temp_c", float(offset + i)) for i in range(500)])
    await h.append([(T0 + 31, "extruder", "zone0.temp_c", math.nan), (T0 + 32, "extruder", "zone0.temp_c", math.inf)])
    assert h.store.counters.dropped_samples > 0
    last_seq = h.store.committed_seq
    h.start()
    await wait_until(lambda: h.worker.status().state == "idle" and h.worker.status().backlog == 0,
                     what="buffer pushed")

    items = receiver.receiver.delivered()
    gaps = [item for item in items if item["metric"] == "gap"]
    assert gaps and all(gap["value"] == gap["gap"]["count"] > 0 for gap in gaps)
    assert sum(gap["gap"]["count"] for gap in gaps) == h.store.counters.dropped_samples
    covered: set[int] = set()
    for item in items:  # every seq is either delivered or accounted for by a gap marker
        if item["metric"] == "gap":
            covered.update(range(item["gap"]["first_seq"], item["gap"]["last_seq"] + 1))
        else:
            covered.add(item["seq"])
    assert covered == set(range(1, last_seq + 1))
    assert [item["value"] for item in items[-2:]] == [None, None]  # NaN and inf arrive as null
    assert receiver.receiver.duplicate_keys == []
