"""The real ``python -m firmware_bridge.simulator`` process: pty, link, control socket, signals."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.firmware_bridge.fb_helpers import PYTHON, wait_for
from firmware_bridge.link import SerialLink
from firmware_bridge.messages import LinkState
from firmware_bridge.simulator.control import send_command
from firmware_bridge.telemetry import Fault


@dataclass
class SimProcess:
    proc: asyncio.subprocess.Process
    slave_path: str
    link: str
    control: str

    async def command(self, line: str) -> dict[str, object]:
        answer = await send_command(self.control, line)
        assert answer["ok"], answer
        return answer


async def start_sim(tmp_path: Path, *args: str) -> SimProcess:
    link, control = str(tmp_path / "ttyEXT"), str(tmp_path / "sim.sock")
    proc = await asyncio.create_subprocess_exec(
        PYTHON, "-m", "firmware_bridge.simulator", "--link", link, "--control", control, *args,
        stdout=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(15.0):
        slave = (await proc.stdout.readline()).decode().strip()  # type: ignore[union-attr]
    await wait_for(lambda: os.path.exists(control), what="control socket")
    return SimProcess(proc, slave, link, control)


async def stop_sim(sim: SimProcess) -> None:
    if sim.proc.returncode is None:
        sim.proc.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(10.0):
                await sim.proc.wait()
        except TimeoutError:
            sim.proc.kill()
            await sim.proc.wait()


@pytest.fixture
async def sim_proc(tmp_path: Path) -> AsyncIterator[SimProcess]:
    sim = await start_sim(tmp_path, "--zones", "3", "--speed", "50", "--seed", "4")
    try:
        yield sim
    finally:
        await stop_sim(sim)
    assert sim.proc.returncode == 0
    assert not os.path.lexists(sim.link) and not os.path.exists(sim.control), "cleaned up on SIGTERM"


async def test_subprocess_simulator_end_to_end(sim_proc: SimProcess) -> None:
    assert sim_proc.slave_path.startswith("/dev/pts/")
    assert os.path.realpath(sim_proc.link) == sim_proc.slave_path
    link = SerialLink(sim_proc.link, 3, telemetry_period_ms=50)
    await link.start()
    try:
        await link.wait_up(5.0)
        await link.request("OUT", d1=750)
        await wait_for(lambda: link.telemetry is not None and link.telemetry.outputs_permille == (0, 750, 0))
        state = (await sim_proc.command("state"))["state"]
        assert state["applied"] == [0, 750, 0]  # type: ignore[index]

        sim_proc.proc.send_signal(signal.SIGUSR1)  # reset the board
        await wait_for(lambda: link.counters.boots == 1 and link.state is LinkState.UP, what="BOOT + HELLO")

        await sim_proc.command("unplug")
        await wait_for(lambda: link.state is LinkState.LOST, what="loss on unplug")
        assert not os.path.lexists(sim_proc.link)
        await sim_proc.command("replug")
        async with asyncio.timeout(5.0):
            new_slave = (await sim_proc.proc.stdout.readline()).decode().strip()  # type: ignore[union-attr]
        assert os.path.realpath(sim_proc.link) == new_slave
        await link.wait_up(5.0)
        assert link.counters.reconnects == 1
        assert (await sim_proc.command("state"))["state"]["applied"] == [0, 0, 0]  # type: ignore[index]
    finally:
        await link.stop()


async def test_faults_injected_from_the_command_line(tmp_path: Path) -> None:
    sim = await start_sim(tmp_path, "--zones", "2", "--fault", "sensor=0:short", "--fault", "slow=20")
    link = SerialLink(sim.link, 2, telemetry_period_ms=50)
    try:
        await link.start()
        await link.wait_up(5.0)
        await wait_for(
            lambda: link.telemetry is not None and link.telemetry.fault is Fault.SENSOR, what="sensor fault"
        )
        assert link.telemetry is not None and link.telemetry.temps_c[0] == "short"
        answer = await send_command(sim.control, "bogus=1")
        assert answer == {"ok": False, "error": "unknown fault 'bogus'"}
    finally:
        await link.stop()
        await stop_sim(sim)
    assert sim.proc.returncode == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fault", "melt=1"], b"unknown fault"),
        (["--fault", "sensor=9:open"], b"no zone 9"),
        (["--zones", "9"], b"--zones must be 1..8"),
        (["--hb", "0"], b"--hb must be > 0"),
        (["--speed", "-1"], b"--speed must be > 0"),
        (["--link", "/nonexistent/dir/ttyEXT"], b"cannot set up the simulator"),
        (["--control", "/nonexistent/dir/sim.sock"], b"cannot set up the simulator"),
        (["--tel-drift", "25"], b"tel_drift: PCT must be -20..20"),
        (["--tel-jitter", "-1"], b"tel_jitter=MS with MS >= 0"),
        (["--fault", "burst=0.2:9"], b"burst: MEAN must be 1..MAX (8)"),
        (["--fault", "fault_event=overtemp"], b"fault_event=CODE:ZONE"),
    ],
)
async def test_bad_command_line_is_refused(args: list[str], message: bytes) -> None:
    proc = await asyncio.create_subprocess_exec(
        PYTHON, "-m", "firmware_bridge.simulator", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(15.0):
        out, err = await proc.communicate()
    assert proc.returncode == 2 and message in err and out == b"", err


async def run_control_cli(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        PYTHON, "-m", "firmware_bridge.simulator.control", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(15.0):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_faults_injected_at_run_time_from_the_shell(sim_proc: SimProcess) -> None:
    link = SerialLink(sim_proc.link, 3, telemetry_period_ms=50)
    await link.start()
    try:
        await link.wait_up(5.0)
        rc, out, _ = await run_control_cli(sim_proc.control, "heater=1:dead", "unplug=300")
        assert rc == 0 and out.count('"ok": true') == 2, out
        await wait_for(lambda: link.state is LinkState.LOST, what="loss on the timed unplug")
        async with asyncio.timeout(5.0):
            new_slave = (await sim_proc.proc.stdout.readline()).decode().strip()  # type: ignore[union-attr]
        assert os.path.realpath(sim_proc.link) == new_slave, "replugged by itself at the same link"
        await link.wait_up(5.0)
        assert link.counters.reconnects == 1
        await link.request("OUT", d0=500, d1=500)
        rc, out, _ = await run_control_cli(sim_proc.control, "state", "melt=1")
        assert rc == 1
        state_line, refused_line = out.strip().splitlines()
        assert '"heater_power_w": [400.0, 0.0, 0.0]' in state_line, "zone 1's heater is dead"
        assert "unknown fault" in refused_line
    finally:
        await link.stop()


async def test_control_cli_reports_an_absent_simulator(tmp_path: Path) -> None:
    rc, out, err = await run_control_cli(str(tmp_path / "none.sock"), "state")
    assert rc == 2 and out == "" and "unreachable" in err
