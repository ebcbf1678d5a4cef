"""The control process on its own: spawned as the gateway spawns it (socketpair, pass_fds), driving a
simulated controller on a real pty, with mock GPIO pins.

- The gateway's socket closing (the gateway died) turns every output off at once and the process exits.
- The e-stop input stops the heater within one period while the "gateway" (this test's event loop) is
  completely stalled: the path runs inside the control process only.
- Bad IPC input is refused without a crash.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from firmware_bridge.simulator.controller import ControllerConfig
from firmware_bridge.simulator.runtime import Simulator, SimulatorConfig
from gateway.control.ipc import Configure, DriveMockPin, SetSetpoint, decode_message, encode
from gateway.control.settings import ExtruderSection
from gateway.control.state import ExtruderState
from tests.support.extruder import SimProcess, extruder_section

SPEED = 20.0
PERIOD_S = 0.1
ESTOP_PIN = 17


class ControlProc:
    def __init__(self, proc: asyncio.subprocess.Process, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.proc, self.reader, self.writer = proc, reader, writer
        self.replies: dict[int, Any] = {}
        self.state: ExtruderState | None = None

    @classmethod
    async def spawn(cls) -> ControlProc:
        parent, child = socket.socketpair()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway.control", "--ipc-fd", str(child.fileno()), "--parent-pid", str(os.getpid()),
            pass_fds=(child.fileno(),), stdin=asyncio.subprocess.DEVNULL,
        )
        child.close()
        reader, writer = await asyncio.open_unix_connection(sock=parent, limit=1 << 20)
        return cls(proc, reader, writer)

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def pump_until(self, predicate: Any, timeout_s: float) -> None:
        async with asyncio.timeout(timeout_s):
            while not predicate(self):
                line = await self.reader.readline()
                assert line, "control process closed the socket"
                message = decode_message(line)
                if message.kind == "state":
                    self.state = message.state
                elif message.kind == "reply":
                    self.replies[message.id] = message


@pytest.fixture
async def control_proc() -> AsyncIterator[list[ControlProc]]:
    procs: list[ControlProc] = []
    yield procs
    for p in procs:
        p.writer.close()
        if p.proc.returncode is None:
            try:
                async with asyncio.timeout(5):
                    await p.proc.wait()
            except TimeoutError:
                p.proc.kill()
                await p.proc.wait()


def _configure(port: str) -> bytes:
    settings = ExtruderSection.model_validate(extruder_section(port, SPEED))
    return encode(Configure(settings=settings, port=port))


async def test_gateway_gone_turns_outputs_off_and_process_exits(tmp_path: Path, control_proc: list[ControlProc]) -> None:
    link = str(tmp_path / "ttyEOF")
    async with Simulator(SimulatorConfig(controller=ControllerConfig(zones=1, speed=SPEED), link_path=link)) as sim:
        cp = await ControlProc.spawn()
        control_proc.append(cp)
        cp.send(_configure(link))
        await cp.pump_until(lambda c: c.state is not None and c.state.link.state == "up"
                            and c.state.zones[0].temp_c is not None, 20)
        cp.send(b"this is not json\n")
        cp.send(b'{"op": "setpoint", "id": 1, "zone": 0}\n')  # missing field: refused, no reply possible
        cp.send(encode(SetSetpoint(id=2, zone=0, setpoint_c=150.0)))
        await cp.pump_until(lambda c: 2 in c.replies, 5)
        assert cp.replies[2].ok and 1 not in cp.replies
        cp.send(encode(SetSetpoint(id=3, zone=7, setpoint_c=150.0)))
        await cp.pump_until(lambda c: 3 in c.replies, 5)
        assert cp.replies[3].ok is False and cp.replies[3].code == "zone"
        deadline = time.monotonic() + 5
        while sim.snapshot()["applied"][0] == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert sim.snapshot()["applied"][0] > 0

        cp.writer.close()  # what the kernel does when the gateway dies
        closed_at = time.monotonic()
        while sim.snapshot()["applied"][0] != 0 and time.monotonic() - closed_at < 5:
            await asyncio.sleep(0.002)
        off_after = time.monotonic() - closed_at
        assert sim.snapshot()["applied"][0] == 0
        assert off_after < 0.5, "off at once, not after the heartbeat timeout"
        async with asyncio.timeout(5):
            assert await cp.proc.wait() == 0
        assert sim.snapshot()["motor_rpm"] == 0.0 and sim.snapshot()["tel_ms"] == 0, "motor 0, telemetry stopped"


async def test_first_message_must_be_a_valid_configure(control_proc: list[ControlProc]) -> None:
    cp = await ControlProc.spawn()
    control_proc.append(cp)
    cp.send(encode(SetSetpoint(id=1, zone=0, setpoint_c=100.0)))
    async with asyncio.timeout(10):
        assert await cp.proc.wait() == 2
    cp2 = await ControlProc.spawn()
    control_proc.append(cp2)
    cp2.send(b'{"op": "configure", "settings": {"loop_rate_hz": 500}, "port": "/dev/null"}\n')
    async with asyncio.timeout(10):
        assert await cp2.proc.wait() == 2


def _poll_sim_off(control: str, stop: threading.Event, found: list[float]) -> None:
    """Thread: poll the simulator's control socket until the heater is off (works while the loop sleeps)."""
    while not stop.is_set():
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(control)
            s.sendall(b"state\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        state = json.loads(data)["state"]
        if state["applied"][0] == 0:
            found.append(time.monotonic())
            return
        time.sleep(0.005)


async def test_estop_pin_stops_heater_within_a_period_while_the_gateway_is_stalled(
    tmp_path: Path, control_proc: list[ControlProc]
) -> None:
    link, control = str(tmp_path / "ttyESTOP"), str(tmp_path / "sim.sock")
    sim = await SimProcess.start(link, control, zones=1, speed=SPEED, hb_ms=1000, tmax_c=300.0)
    try:
        cp = await ControlProc.spawn()
        control_proc.append(cp)
        cp.send(_configure(link))
        await cp.pump_until(lambda c: c.state is not None and c.state.zones[0].temp_c is not None, 20)
        cp.send(encode(SetSetpoint(id=1, zone=0, setpoint_c=150.0)))
        await cp.pump_until(lambda c: c.state is not None and c.state.zones[0].applied_output, 5)

        stop, found = threading.Event(), []
        poller = threading.Thread(target=_poll_sim_off, args=(control, stop, found))
        poller.start()
        cp.send(encode(DriveMockPin(id=2, pin=ESTOP_PIN, high=False)))
        await cp.writer.drain()
        pressed_at = time.monotonic()
        time.sleep(1.0)  # the gateway's event loop is stalled: nothing here answers or forwards anything
        stop.set()
        poller.join()
        assert found, "heater still on after 1 s"
        assert found[0] - pressed_at <= PERIOD_S + 0.3, found[0] - pressed_at

        await cp.pump_until(lambda c: 2 in c.replies and c.state is not None and c.state.faults, 5)
        state = cp.state
        assert state is not None
        assert {f.code for f in state.faults} >= {"estop"}
        assert state.gpio.estop_pressed and not state.gpio.interlock_on and state.gpio.light == "red"
        assert (await sim.snapshot())["fault"] == "estop", "the controller was told to stop as well"
    finally:
        await sim.stop()
