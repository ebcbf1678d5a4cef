"""A corrupted buffer is quarantined at start-up: a new epoch begins, status and the audit log say so,
and the API keeps serving (an old cursor gets 409 with the new epoch)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gateway.factory import create_gateway
from gateway.telemetry.integrity import check_file
from gateway.telemetry.store import TelemetryStore
from tests.gateway.telemetry.tel_helpers import samples, settings
from tests.support.gateway import ApiClient, issue, make_config

PAGE = 4096


async def make_buffer(path: Path, count: int) -> str:
    store = await TelemetryStore.open(path, settings(batch_size=20_000, max_pending=100_000))
    for sample in samples(count):
        store.put(sample)
    await store.close()
    return store.epoch


def scribble_pages(path: Path) -> None:
    """Overwrite a few b-tree pages in the middle of the file (the header stays valid)."""
    data = bytearray(path.read_bytes())
    for page in (2, 5, 9):
        data[page * PAGE:(page + 1) * PAGE] = os.urandom(PAGE)
    path.write_bytes(bytes(data))


def scribble_header(path: Path) -> None:
    with open(path, "r+b") as out:
        out.write(b"definitely not SQLite at all!!!")


@pytest.mark.parametrize("damage", [scribble_pages, scribble_header])
async def test_corrupt_buffer_is_quarantined_and_api_keeps_serving(tmp_path: Path, damage) -> None:  # type: ignore[no-untyped-def]
    config = make_config(tmp_path / "state")
    path = config.telemetry.db_path(config.gateway.state_dir)
    path.parent.mkdir(parents=True)
    old_epoch = await make_buffer(path, 50_000)
    damage(path)
    assert check_file(path) is not None

    gateway = await create_gateway(config)
    await gateway.start()
    api = ApiClient(gateway.urls[0])
    try:
        store = gateway.telemetry
        assert store is not None and store.quarantined is not None
        assert store.epoch != old_epoch
        moved = store.quarantined.moved_to
        assert moved.exists() and moved.name.startswith("telemetry.db.corrupt-")  # kept for forensics
        assert check_file(path) is None

        sync = await issue(gateway, "sync")
        page = await api.request("GET", "/api/v1/telemetry", token=sync)
        assert page.status == 200 and page.json()["items"] == []
        stale = await api.request("GET", f"/api/v1/telemetry?after={old_epoch}.10", token=sync)
        assert stale.status == 409 and stale.json()["error"]["current_epoch"] == store.epoch
        store.put(samples(1)[0])
        await store.flush()
        assert [i["seq"] for i in (await api.request("GET", "/api/v1/telemetry", token=sync)).json()["items"]] == [1]

        status = (await api.request("GET", "/api/v1/status", token=await issue(gateway, "viewer"))).json()
        detail = next(p for p in status["parts"] if p["name"] == "telemetry")["detail"]
        assert detail["quarantined"]["moved_to"] == str(moved) and detail["epoch"] == store.epoch
        entries = await gateway.context.audit.list(limit=20)
        event = next(e for e in entries if e.action == "telemetry.quarantine")
        assert event.target == str(moved) and event.details["new_epoch"] == store.epoch
    finally:
        await api.close()
        await gateway.stop()

    gateway = await create_gateway(config)  # the next start finds a good file: no second quarantine
    try:
        assert gateway.telemetry is not None and gateway.telemetry.quarantined is None
    finally:
        await gateway.stop()
