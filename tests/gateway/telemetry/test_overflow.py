"""Overflow: a small byte budget drops the oldest with a gap marker; reject_new refuses and counts;
a tmpfs that fills up is survived, and the store writes again once space is freed."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.telemetry.budget import budget_pragmas
from gateway.telemetry.connection import file_bytes
from gateway.telemetry.cursor import Cursor
from gateway.telemetry.integrity import check_file
from gateway.telemetry.store import TelemetryStore
from gateway.telemetry.sink import Sample
from tests.gateway.telemetry.tel_helpers import BASE_TS, samples, settings, wait_until

SMALL_BUDGET_BYTES = 256 * 1024
TMPFS_BYTES = 1024 * 1024


async def ingest(store: TelemetryStore, count: int, *, start: int = 0, burst: int = 500) -> None:
    """Put ``count`` samples in bursts, each burst flushed like the flusher would."""
    batch = samples(count, start=start)
    for offset in range(0, count, burst):
        for sample in batch[offset:offset + burst]:
            store.put(sample)
        await store.flush()


async def test_drop_oldest_leaves_a_gap_marker(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    store = await TelemetryStore.open(path, settings(max_bytes=SMALL_BUDGET_BYTES))
    try:
        for start in range(0, 40_000, 5_000):
            await ingest(store, 5_000, start=start)
            assert file_bytes(path) <= SMALL_BUDGET_BYTES  # file + WAL stay inside the budget while writing
        counters = store.counters
        assert counters.dropped_samples > 0 and counters.disk_full_events >= 1
        assert counters.rejected_samples == 0 and store.committed_seq == 40_000
        page = await store.read_after(None, 10_000)
        gap, first_kept = page.items[0], page.items[1]
        assert gap["metric"] == "gap" and gap["source"] == "telemetry"
        assert gap["value"] == counters.dropped_samples == gap["gap"]["count"]
        assert gap["gap"]["first_seq"] == 1 and gap["gap"]["last_seq"] == gap["seq"]
        assert first_kept["seq"] == gap["seq"] + 1
        seqs = [item["seq"] for item in page.items[1:]]
        while page.more:
            page = await store.read_after(page.next, 10_000)
            seqs += [item["seq"] for item in page.items]
        assert seqs == list(range(first_kept["seq"], 40_001))  # everything after the gap, once, in order
        assert path.stat().st_size <= budget_pragmas(SMALL_BUDGET_BYTES, 500).max_page_count * 4096
        assert store.stats()["dropped_samples"] == counters.dropped_samples
        # acking through the marker removes it; later drops make a new one
        await store.ack(Cursor(store.epoch, gap["seq"]))
        assert (await store.read_after(None, 1)).items[0]["metric"] != "gap"
        await store.ack(Cursor(store.epoch, store.committed_seq))  # deletes go in batch-sized transactions
        assert file_bytes(path) <= SMALL_BUDGET_BYTES and store.stats()["backlog_samples"] == 0
    finally:
        await store.close()
    assert file_bytes(path) <= SMALL_BUDGET_BYTES


async def test_reject_new_counts_refused_samples(tmp_path: Path) -> None:
    store = await TelemetryStore.open(tmp_path / "t.db", settings(max_bytes=SMALL_BUDGET_BYTES, overflow="reject_new"))
    try:
        await ingest(store, 40_000)
        rejected = store.counters.rejected_samples
        assert rejected > 0 and store.counters.dropped_samples == 0
        assert store.stats()["refusing"] is True
        first = (await store.read_after(None, 1)).items[0]
        assert first["seq"] == 1 and first["metric"] != "gap"  # the oldest data is kept
        store.put(samples(1)[0])
        assert store.counters.rejected_samples == rejected + 1  # refused at put, counted
        # the probe lets a batch with a new series try again: it is rejected, and no flush loops on it
        store._set_gate(refusing=False)
        for i in range(600):
            store.put(Sample(BASE_TS + i, "printer:NEW", "bed_c", float(i)))
        assert await asyncio.wait_for(store.flush(), 10) is False
        assert store.counters.rejected_samples >= rejected + 1 + 500
        await asyncio.wait_for(store.flush(), 10)  # only the new series' name is left: tried once, no loop
        # an ack frees space: new samples are accepted again
        await store.ack(Cursor(store.epoch, store.committed_seq))
        before = store.committed_seq
        await ingest(store, 100, start=50_000)
        assert store.committed_seq > before and store.stats()["refusing"] is False
    finally:
        await store.close()


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / f"tmpfs-{uuid.uuid4().hex[:8]}"
    mount_point.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES},mode=0700", "tmpfs", str(mount_point)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"mount -t tmpfs not permitted here: {result.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill_disk(directory: Path) -> Path:
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 4096)
        except OSError:
            pass
    return filler


@pytest.mark.parametrize("overflow", ["drop_oldest", "reject_new"])
async def test_full_disk_then_space_freed(tiny_tmpfs: Path, overflow: str) -> None:
    path = tiny_tmpfs / "telemetry.db"
    store = await TelemetryStore.open(path, settings(max_bytes=64 * 1024 * 1024, overflow=overflow))
    runner = asyncio.create_task(store.run())
    try:
        await ingest(store, 2_000)
        filler = fill_disk(tiny_tmpfs)
        next_start = 2_000
        for _ in range(40):  # keep producing until the full disk has been hit
            await ingest(store, 2_000, start=next_start)
            next_start += 2_000
            if store.counters.disk_full_events:
                break
        assert store.counters.disk_full_events >= 1, store.stats()
        await ingest(store, 2_000, start=next_start)  # no lock-up: put and flush return
        page = await store.read_after(None, 100)  # and reading still works
        assert page.items
        filler.unlink()
        # reject_new refuses producers until its probe finds room again (about a second)
        await wait_until(lambda: not store.stats()["refusing"], timeout_s=10, what="reject_new probe")
        target = store.stats()["committed_seq"]
        await ingest(store, 1_000, start=900_000)
        await wait_until(lambda: store.committed_seq >= target + 1_000 and not store.stats()["pending_samples"],
                         timeout_s=15, what="writes after space was freed")
        page = await store.read_after(Cursor(store.epoch, store.committed_seq - 1), 10)
        newest = [item["value"] for item in page.items]
        assert newest == [900_999.0]
    finally:
        runner.cancel()
        await store.close()
    assert check_file(path) is None
