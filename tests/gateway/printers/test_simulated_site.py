"""The demo's simulated site: a gateway starts its own mosquitto and simulator process, and stops them."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from gateway.factory import create_gateway
from gateway.printers.simulator.site import SIMULATED_SERIALS
from tests.gateway.printers.conftest import eventually
from tests.support.gateway import ApiClient, issue, make_config
from tests.support.mosquitto import skip_without_mosquitto


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"


async def test_simulated_printers_come_online_and_stop_with_the_gateway(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    skip_without_mosquitto()
    caplog.set_level(logging.WARNING, logger="gateway.printers")
    config = make_config(tmp_path / "state", printers={"simulated_printers": 2, "reconnect_initial_s": 0.2,
                                                       "reconnect_max_s": 1.0})
    gateway = await create_gateway(config)
    await gateway.start()
    api = ApiClient(gateway.urls[0])
    try:
        token = await issue(gateway, "viewer")

        async def all_online() -> list[str] | None:
            printers = (await api.request("GET", "/api/v1/printers", token=token)).json()["printers"]
            online = [p["serial"] for p in printers if p["online"] and p["total_layers"] == 250]
            return online if len(online) == 2 else None

        assert await eventually(all_online) == list(SIMULATED_SERIALS[:2])
        refused = [r.getMessage() for r in caplog.records if "cannot connect" in r.getMessage()]
        assert refused == [], f"the links waited for the demo's broker: {refused}"
        assert gateway.printers is not None
        site = gateway.printers.parts[0]
        broker_pid = site.broker.pid  # type: ignore[attr-defined]
        simulator = site.process  # type: ignore[attr-defined]
        assert broker_pid is not None and alive(broker_pid) and simulator.poll() is None
        key_file = tmp_path / "state" / "secrets.key"
        assert key_file.stat().st_mode & 0o777 == 0o600
    finally:
        await api.close()
        await gateway.stop()
    assert not alive(broker_pid) and simulator.poll() is not None
