"""Composition and lifecycle in-process: failing parts are contained, stop leaves nothing behind."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from gateway.config.models import GatewayConfig
from gateway.factory import create_gateway
from gateway.lifecycle.notify import SystemdNotifier
from tests.support.gateway import ApiClient, issue
from tests.support.notify import NotifyListener


class Broken:
    name = "broken-part"

    def __init__(self) -> None:
        self.runs = 0

    async def run(self) -> None:
        self.runs += 1
        raise ConnectionError("controller unplugged")


async def test_failing_part_is_restarted_and_reported_while_api_keeps_serving(gateway_config: GatewayConfig) -> None:
    gateway = await create_gateway(gateway_config)
    broken = Broken()
    gateway.supervisor.add(broken)
    await gateway.start()
    api = ApiClient(gateway.urls[0])
    try:
        for _ in range(100):
            await asyncio.sleep(0.05)
            if broken.runs >= 3:
                break
        assert broken.runs >= 3
        token = await issue(gateway, "viewer")
        status = (await api.request("GET", "/api/v1/status", token=token)).json()
        assert status["state"] == "degraded"
        part = next(p for p in status["parts"] if p["name"] == "broken-part")
        assert part["restarts"] >= 2
        assert part["last_error"] == "ConnectionError: controller unplugged"
        assert (await api.request("GET", "/healthz")).status == 200
    finally:
        await api.close()
        await gateway.stop()


async def test_stop_leaves_no_task_and_no_thread(gateway_config: GatewayConfig) -> None:
    threads_before = threading.active_count()
    tasks_before = asyncio.all_tasks()
    gateway = await create_gateway(gateway_config)
    await gateway.start()
    api = ApiClient(gateway.urls[0])
    token = await issue(gateway, "admin")
    await api.request("POST", "/api/v1/tokens", token=token, json={"sub": "x", "role": "viewer"})
    await api.close()
    assert threading.active_count() > threads_before  # aiosqlite's connection thread
    await gateway.stop()
    await asyncio.sleep(0)
    assert asyncio.all_tasks() - tasks_before == set()
    assert threading.active_count() == threads_before  # stop() waited for the database threads to end
    status = gateway.status()
    assert status.state == "stopping"
    assert all(p.state == "stopped" for p in status.parts)


class FailsTwice:
    name = "flaky-link"

    def __init__(self) -> None:
        self.runs = 0

    async def run(self) -> None:
        self.runs += 1
        if self.runs <= 2:
            raise ConnectionError(f"link lost {self.runs}")
        await asyncio.Event().wait()


async def test_part_failure_and_recovery_reported_to_the_service_manager(
    gateway_config: GatewayConfig, tmp_path: Path
) -> None:
    listener = NotifyListener(tmp_path / "notify.sock")
    gateway = await create_gateway(gateway_config, notifier=SystemdNotifier(str(tmp_path / "notify.sock")))
    part = FailsTwice()
    gateway.supervisor.add(part)
    await gateway.start()
    try:
        degraded = await asyncio.to_thread(listener.wait_for, "STATUS", 10)
        assert degraded["STATUS"].startswith("degraded: flaky-link failed (ConnectionError: link lost 1)")
        statuses: list[str] = []
        for _ in range(200):  # two restarts (0.05 s, then 0.1 s, +-20 %), then running for good
            await asyncio.sleep(0.05)
            statuses = [m["STATUS"] for m in listener.messages if "STATUS" in m]
            if part.runs >= 3 and statuses and statuses[-1].startswith("serving on"):
                break
        assert any("link lost 2" in text for text in statuses), statuses
        assert statuses[-1] == f"serving on {gateway.urls[0]}", statuses
    finally:
        await gateway.stop()
        listener.close()
