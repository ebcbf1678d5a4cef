"""``python -m firmware_bridge.monitor`` against the simulator."""

from __future__ import annotations

import asyncio
import signal
from typing import TYPE_CHECKING

import pytest

from tests.firmware_bridge.fb_helpers import PYTHON

if TYPE_CHECKING:
    from tests.firmware_bridge.fb_helpers import SimFactory


async def run_monitor(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        PYTHON, "-m", "firmware_bridge.monitor", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with asyncio.timeout(20.0):
            out, _ = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_monitor_prints_decoded_traffic_and_counters(make_sim: SimFactory) -> None:
    sim = await make_sim(seed=3)
    sim.inject("crc=0.3")
    rc, out = await run_monitor(sim.port_path, "--count", "5", "--tel", "40", "--interval", "0.05")
    assert rc == 0, out
    assert "tx  1 HELLO proto=1" in out
    assert "rx  1 OK proto=1 fw=1.0.0-sim id=SIM0001 zones=3" in out or "rx! bad_crc" in out
    assert out.count("rx  ! TEL n=") >= 1
    assert "rx! bad_crc" in out
    last = out.strip().splitlines()[-1]
    assert "state=up" in out and "telemetry=" in out and "frames_rx=" in last
    assert sim.controller.tel_ms == 0 and sim.controller.applied == [0, 0, 0], "the monitor leaves the board off"


async def test_monitor_once_shows_status(make_sim: SimFactory) -> None:
    sim = await make_sim()
    rc, out = await run_monitor(sim.port_path, "--once", "--rx-only", "--tel", "50")
    assert rc == 0, out
    assert "status fault=none zone=- up=" in out
    assert "tx " not in out


async def test_monitor_gives_up_on_a_missing_port(tmp_path: object) -> None:
    rc, out = await run_monitor("/nonexistent/ttyX", "--timeout", "0.5")
    assert rc == 1
    assert "link not up" in out and "could not open port" in out


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
async def test_monitor_runs_until_a_signal_then_leaves_the_board_off(make_sim: SimFactory, sig: signal.Signals) -> None:
    sim = await make_sim()
    proc = await asyncio.create_subprocess_exec(
        PYTHON, "-m", "firmware_bridge.monitor", sim.port_path, "--tel", "50", "--interval", "0.1",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    lines: list[str] = []
    try:
        async with asyncio.timeout(15.0):
            while sum("rx  ! TEL n=" in line for line in lines) < 3:
                lines.append((await proc.stdout.readline()).decode())  # type: ignore[union-attr]
                assert lines[-1], "monitor ended early:\n" + "".join(lines)
            assert any("state=up" in line for line in lines), "counters are printed while it runs"
            assert sim.controller.tel_ms == 50
            proc.send_signal(sig)
            rest, _ = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, "".join(lines) + rest.decode()
    assert f"stopped by {sig.name}" in rest.decode()
    assert sim.controller.tel_ms == 0 and sim.controller.applied == [0, 0, 0] and sim.controller.motor_rpm == 0.0


@pytest.mark.parametrize(("args", "message"), [(["--tel", "5"], "telemetry_period_ms"), (["--zones", "0"], "zones")])
async def test_monitor_refuses_bad_options(args: list[str], message: str) -> None:
    rc, out = await run_monitor("/nonexistent/ttyX", *args)
    assert rc == 2 and "bad option" in out and message in out
