"""Killing the gateway outright leaves every heater off.

The gateway runs as a real service process (``python -m gateway serve``) whose control process drives
a simulated controller on a real pty (in this test process, so its applied outputs can be watched).
- SIGKILL of the gateway alone: the control process sees its IPC socket close (and gets its
  parent-death signal), turns every output off and exits, well within the heartbeat timeout.
- SIGKILL of the gateway and the control process together (``kill -9`` of its process group): the
  controller's heartbeat failsafe turns the heaters off within its timeout and latches ``host_timeout``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from firmware_bridge.simulator.controller import ControllerConfig
from firmware_bridge.simulator.runtime import Simulator, SimulatorConfig
from gateway.cli.token_cmd import issue_token
from gateway.config.loader import load_config
from tests.support.extruder import scaled_zone
from tests.support.net import free_port

HEARTBEAT_MS = 1000
SPEED = 20.0
MARGIN_S = 0.5
"""Beyond the heartbeat timeout, for a loaded test machine."""


def _config(tmp_path: Path, port: int, link: str) -> Path:
    zone = ", ".join(f"{k} = {v}" for k, v in scaled_zone(SPEED).items())
    path = tmp_path / "config.toml"
    path.write_text(
        f'[gateway]\nid = "gw-kill-01"\nstate_dir = "{tmp_path / "state"}"\n'
        f'[http]\nlisten = [{{ host = "127.0.0.1", port = {port} }}]\n'
        f'[extruder]\nenabled = true\nport = "{link}"\n'
        f'[extruder.gpio]\npin_factory = "mock"\n'
        f'[[extruder.zones]]\n{zone.replace(", ", chr(10))}\n'
    )
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def _get(session: aiohttp.ClientSession, url: str, token: str) -> dict | None:  # type: ignore[type-arg]
    try:
        async with session.get(url, headers={"Authorization": f"Bearer {token}"}) as resp:
            return await resp.json() if resp.status == 200 else None
    except aiohttp.ClientError:
        return None


@pytest.mark.parametrize("kill_control_process_too", [False, True], ids=["gateway-only", "gateway-and-control"])
async def test_sigkill_leaves_heaters_off_within_heartbeat(tmp_path: Path, kill_control_process_too: bool) -> None:
    link = str(tmp_path / "ttyKILL")
    sim = Simulator(SimulatorConfig(controller=ControllerConfig(zones=1, speed=SPEED, hb_ms=HEARTBEAT_MS),
                                    link_path=link))
    await sim.start()
    port = free_port()
    config = _config(tmp_path, port, link)
    token, _ = await issue_token(load_config(config, environ={}), "kill", "admin", 3600)  # as the CLI does
    with open(tmp_path / "gateway.log", "wb") as log_file:
        gateway = subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--config", str(config)],
                                   stdout=subprocess.DEVNULL, stderr=log_file, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    control_pid = None
    try:
        async with aiohttp.ClientSession() as session:
            deadline = time.monotonic() + 30
            state = None
            while time.monotonic() < deadline:
                state = await _get(session, base + "/api/v1/extruder", token)
                if state and state["link"]["state"] == "up" and state["zones"][0]["temp_c"] is not None:
                    break
                await asyncio.sleep(0.1)
            assert state and state["link"]["state"] == "up", state
            status = await _get(session, base + "/api/v1/status", token)
            assert status is not None
            control_pid = next(p["detail"]["pid"] for p in status["parts"] if p["name"] == "extruder")
            async with session.put(base + "/api/v1/extruder/zones/0", json={"setpoint_c": 150.0},
                                   headers={"Authorization": f"Bearer {token}"}) as resp:
                assert resp.status == 200, await resp.text()
        deadline = time.monotonic() + 5
        while sim.snapshot()["applied"][0] == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert sim.snapshot()["applied"][0] > 0, "heater on before the kill"

        if kill_control_process_too:
            # The control process has its own session (a terminal's Ctrl-C reaches the gateway only): kill
            # it first, so its parent-death signal cannot run its own heaters-off path, then the gateway's.
            os.kill(control_pid, signal.SIGKILL)
            os.killpg(gateway.pid, signal.SIGKILL)
        else:
            gateway.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        while sim.snapshot()["applied"][0] != 0 and time.monotonic() - killed_at < 5:
            await asyncio.sleep(0.002)
        off_after_s = time.monotonic() - killed_at
        print(f"heater off {off_after_s * 1000:.0f} ms after the SIGKILL")
        snapshot = sim.snapshot()
        assert snapshot["applied"][0] == 0, snapshot
        assert off_after_s <= HEARTBEAT_MS / 1000 + MARGIN_S, off_after_s
        if kill_control_process_too:
            await asyncio.sleep(0.2)
            assert sim.snapshot()["fault"] == "host_timeout"
        else:
            assert snapshot["commanded"][0] == 0, "the control process commanded the heater off itself"
            deadline = time.monotonic() + 5
            while _alive(control_pid) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert not _alive(control_pid), "the control process exits when the gateway is gone"
        await asyncio.sleep(0.3)
        assert sim.snapshot()["applied"][0] == 0, "and stays off"
    finally:
        if gateway.poll() is None:
            gateway.kill()
        gateway.wait()
        if control_pid is not None and _alive(control_pid):
            os.kill(control_pid, signal.SIGKILL)
        await sim.stop()
