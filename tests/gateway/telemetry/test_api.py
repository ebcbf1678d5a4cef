"""Pull/ack over real HTTP: a connector that pulls, acks, is restarted and resumes gets every sample once
in order across a gateway restart; replayed acks are harmless; stale and future cursors get 409; bad
input gets clear 4xx JSON errors; status shows the telemetry part; acks are audited."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gateway.api.telemetry_models import TelemetryPage
from gateway.config.models import GatewayConfig
from gateway.factory import Gateway, create_gateway
from gateway.telemetry.store import TelemetryStore
from tests.gateway.telemetry.tel_helpers import samples
from tests.support.gateway import ApiClient, issue, make_config


def config_for(tmp_path: Path) -> GatewayConfig:
    return make_config(tmp_path / "state", telemetry={"flush_interval_ms": 20, "batch_size": 500})


def store_of(gateway: Gateway) -> TelemetryStore:
    assert gateway.telemetry is not None
    return gateway.telemetry


async def put_and_flush(gateway: Gateway, count: int, start: int) -> None:
    store = store_of(gateway)
    for sample in samples(count, start=start):
        store.put(sample)
    assert await store.flush()


class Connector:
    """A cloud connector that keeps its cursor in a file: pull a page, store it, save the cursor, ack."""

    def __init__(self, url: str, token: str, state: Path) -> None:
        self.api = ApiClient(url)
        self.token = token
        self.state = state
        self.cursor = state.read_text() if state.exists() else None
        self.received: list[dict[str, Any]] = []

    async def pull(self, limit: int) -> tuple[list[dict[str, Any]], str, bool]:
        query = f"?limit={limit}" + (f"&after={self.cursor}" if self.cursor else "")
        reply = await self.api.request("GET", f"/api/v1/telemetry{query}", token=self.token)
        assert reply.status == 200, reply.body
        body = reply.json()
        return body["items"], body["next"], body["more"]

    async def step(self, limit: int) -> bool:
        items, cursor, more = await self.pull(limit)
        self.received += items
        self.state.write_text(cursor)
        self.cursor = cursor
        ack = await self.api.request("POST", "/api/v1/telemetry/ack", token=self.token, json={"cursor": cursor})
        assert ack.status == 200, ack.body
        return more

    async def close(self) -> None:
        await self.api.close()


async def test_connector_resumes_across_connector_and_gateway_restarts(tmp_path: Path) -> None:
    config = config_for(tmp_path)
    state = tmp_path / "connector-cursor"
    received: list[dict[str, Any]] = []

    gateway = await create_gateway(config)
    await gateway.start()
    try:
        epoch = store_of(gateway).epoch
        token = await issue(gateway, "sync", sub="cloud")
        await put_and_flush(gateway, 2_500, 0)
        connector = Connector(gateway.urls[0], token, state)
        for _ in range(3):
            await connector.step(400)
        lost_page, _, _ = await connector.pull(400)  # pulled, then the connector dies before storing/acking
        assert lost_page
        received += connector.received
        await connector.close()

        connector = Connector(gateway.urls[0], token, state)  # restarted: resumes from its saved cursor
        await connector.step(400)
        replay = await connector.api.request("POST", "/api/v1/telemetry/ack", token=token,
                                             json={"cursor": f"{epoch}.400"})
        assert replay.status == 200 and replay.json()["replayed"] is True and replay.json()["deleted"] == 0
        received += connector.received
        await connector.close()
    finally:
        await gateway.stop()

    gateway = await create_gateway(config)  # the gateway restarts: same file, same epoch
    await gateway.start()
    try:
        assert store_of(gateway).epoch == epoch
        await put_and_flush(gateway, 1_500, 2_500)
        connector = Connector(gateway.urls[0], token, state)
        while await connector.step(700):
            pass
        received += connector.received
        await connector.close()
        assert store_of(gateway).stats()["backlog_samples"] == 0
    finally:
        await gateway.stop()

    assert [item["value"] for item in received] == [float(i) for i in range(4_000)]  # every sample once, in order
    assert [item["seq"] for item in received] == list(range(1, 4_001))


@pytest.fixture
async def served(tmp_path: Path):  # type: ignore[no-untyped-def]
    gateway = await create_gateway(config_for(tmp_path))
    await gateway.start()
    api = ApiClient(gateway.urls[0])
    try:
        yield gateway, api, await issue(gateway, "sync", sub="cloud")
    finally:
        await api.close()
        await gateway.stop()


async def test_stale_and_future_cursors_get_409(served) -> None:  # type: ignore[no-untyped-def]
    gateway, api, token = served
    await put_and_flush(gateway, 10, 0)
    epoch = store_of(gateway).epoch
    old_epoch = "0123456789abcdef" if epoch != "0123456789abcdef" else "fedcba9876543210"
    for method, path, body in (("GET", f"/api/v1/telemetry?after={old_epoch}.5", None),
                               ("POST", "/api/v1/telemetry/ack", {"cursor": f"{old_epoch}.5"})):
        reply = await api.request(method, path, token=token, json=body)
        assert reply.status == 409 and reply.json()["error"]["code"] == "stale_epoch"
        assert reply.json()["error"]["current_epoch"] == epoch
    for method, path, body in (("GET", f"/api/v1/telemetry?after={epoch}.11", None),
                               ("POST", "/api/v1/telemetry/ack", {"cursor": f"{epoch}.11"})):
        reply = await api.request(method, path, token=token, json=body)
        assert reply.status == 409 and reply.json()["error"]["code"] == "future"
    assert store_of(gateway).stats()["backlog_samples"] == 10


@pytest.mark.parametrize("query, field", [
    ("?after=nonsense", "query.after"), ("?limit=0", "query.limit"), ("?limit=10001", "query.limit"),
    ("?limit=ten", "query.limit"), ("?colour=red", "query.colour"), ("?after=0123456789abcdef.-1", "query.after"),
    (f"?after={'a' * 100}", "query.after"),
])
async def test_bad_pull_queries_get_422(served, query: str, field: str) -> None:  # type: ignore[no-untyped-def]
    _, api, token = served
    reply = await api.request("GET", f"/api/v1/telemetry{query}", token=token)
    assert reply.status == 422
    error = reply.json()["error"]
    assert error["code"] == "validation_error" and error["message"].startswith(field)


@pytest.mark.parametrize("body, status", [
    ({"cursor": "nonsense"}, 422), ({"cursor": 5}, 422), ({}, 422), ({"cursor": "x", "extra": 1}, 422),
    ("[1, 2", 400),
])
async def test_bad_acks_get_4xx(served, body: Any, status: int) -> None:  # type: ignore[no-untyped-def]
    _, api, token = served
    if isinstance(body, str):
        reply = await api.request("POST", "/api/v1/telemetry/ack", token=token, data=body,
                                  headers={"Content-Type": "application/json"})
    else:
        reply = await api.request("POST", "/api/v1/telemetry/ack", token=token, json=body)
    assert reply.status == status
    assert set(reply.json()["error"]) >= {"code", "message"}


async def test_only_sync_may_pull_and_acks_are_audited(served) -> None:  # type: ignore[no-untyped-def]
    gateway, api, token = served
    viewer = await issue(gateway, "viewer")
    assert (await api.request("GET", "/api/v1/telemetry", token=viewer)).status == 403
    assert (await api.request("GET", "/api/v1/telemetry")).status == 401
    await put_and_flush(gateway, 5, 0)
    page = (await api.request("GET", "/api/v1/telemetry", token=token)).json()
    assert [i["seq"] for i in page["items"]] == [1, 2, 3, 4, 5] and page["more"] is False
    assert set(page["items"][0]) == {"seq", "ts", "source", "metric", "value"}
    TelemetryPage.model_validate(page)  # what is served is what the OpenAPI document says
    assert (await api.request("POST", "/api/v1/telemetry/ack", token=token, json={"cursor": page["next"]})).status == 200
    entries = await gateway.context.audit.list(limit=5)
    ack = next(e for e in entries if e.action == "telemetry.ack")
    assert ack.outcome == "ok" and ack.actor == "cloud" and ack.target == page["next"]
    assert ack.details["deleted"] == 5


async def test_status_has_a_telemetry_part(served) -> None:  # type: ignore[no-untyped-def]
    gateway, api, _ = served
    await put_and_flush(gateway, 7, 0)
    status = (await api.request("GET", "/api/v1/status", token=await issue(gateway, "viewer"))).json()
    part = next(p for p in status["parts"] if p["name"] == "telemetry")
    detail = part["detail"]
    assert part["state"] == "running"
    assert detail["backlog_samples"] == 7 and detail["epoch"] == store_of(gateway).epoch
    assert detail["dropped_samples"] == 0 and detail["size_bytes"] > 0 and detail["last_flush_at"] is not None
    assert json.dumps(detail)


async def test_stop_flushes_what_was_put(tmp_path: Path) -> None:
    """Samples put just before shutdown are written by the final flush, and served after the restart."""
    config = config_for(tmp_path)
    gateway = await create_gateway(config)
    await gateway.start()
    for sample in samples(123):
        store_of(gateway).put(sample)
    await gateway.stop()
    gateway = await create_gateway(config)
    await gateway.start()
    try:
        page = await store_of(gateway).read_after(None, 1_000)
        assert [item["seq"] for item in page.items] == list(range(1, 124))
    finally:
        await gateway.stop()
