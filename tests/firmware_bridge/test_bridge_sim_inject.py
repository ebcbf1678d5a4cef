"""Every fault injection command through the simulator's Python API (what tests of other parts use)."""

from __future__ import annotations

import asyncio
import os
import termios

import pytest
import serial

from firmware_bridge.codec import FrameDecoder
from firmware_bridge.crc import crc16_hex
from firmware_bridge.errors import FrameError, FrameErrorKind
from firmware_bridge.frame import HOST_RX_VERBS, Frame
from firmware_bridge.telemetry import Fault
from tests.firmware_bridge.fb_helpers import SimFactory, wait_for


def request(body: str) -> bytes:
    return f"{body}*{crc16_hex(body.encode())}\n".encode()


class Host:
    """A bare host on the simulator's pty: writes lines, collects what comes back."""

    def __init__(self, path: str) -> None:
        self.port = serial.Serial(path, timeout=0)
        self.decoder = FrameDecoder(HOST_RX_VERBS)
        self.received: list[Frame | FrameError] = []

    def send(self, data: bytes) -> None:
        os.write(self.port.fileno(), data)

    def poll(self) -> list[Frame | FrameError]:
        try:
            self.received += self.decoder.feed(os.read(self.port.fileno(), 65536))
        except BlockingIOError:
            pass
        return self.received

    def frames(self) -> list[Frame]:
        return [r for r in self.poll() if isinstance(r, Frame)]

    def close(self) -> None:
        self.port.close()


async def test_the_pty_is_raw(make_sim: SimFactory) -> None:
    sim = await make_sim()
    fd = os.open(sim.port_path, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        iflag, oflag, _, lflag, *_ = termios.tcgetattr(fd)
    finally:
        os.close(fd)
    assert not lflag & (termios.ICANON | termios.ECHO | termios.ISIG), "no line editing, echo or signals"
    assert not iflag & (termios.ICRNL | termios.IXON) and not oflag & termios.OPOST, "bytes pass untouched"


async def test_sensor_and_heater_faults(make_sim: SimFactory) -> None:
    sim = await make_sim(zones=3)
    sim.controller.set_outputs({0: 1000, 1: 0, 2: 1000})
    sim.inject("heater=0:dead")
    sim.inject("heater=1:stuck")
    assert sim.snapshot()["heater_power_w"] == [0.0, 800.0, 800.0], "dead: nothing; stuck: full power at 0"
    sim.inject("sensor=2:short")
    await wait_for(lambda: sim.controller.fault is Fault.SENSOR, what="sensor fault latched")
    snap = sim.snapshot()
    assert snap["readings"][2] == "short" and snap["faults"] == [["sensor", 2]]
    assert snap["applied"] == [0, 0, 0]
    sim.inject("clear")
    assert sim.plant.heater_power_w(1) == 0.0, "clear repairs the stuck relay too"
    for bad in ("sensor=3:open", "heater=-1:dead"):
        with pytest.raises(ValueError, match="no zone"):
            sim.inject(bad)
    sim.inject("sensor=0:open")
    assert sim.plant.read_sensor(0) == "open"
    sim.inject("sensor=0:ok")
    assert isinstance(sim.plant.read_sensor(0), float)


async def test_link_faults_on_the_wire(make_sim: SimFactory) -> None:
    sim = await make_sim()
    host = Host(sim.port_path)
    try:
        sim.inject("crc=1")
        host.send(request("1 PING"))
        await wait_for(lambda: any(isinstance(r, FrameError) for r in host.poll()), what="a corrupted reply")
        assert [r.kind for r in host.poll() if isinstance(r, FrameError)] == [FrameErrorKind.BAD_CRC]

        sim.inject("crc=0")
        sim.inject("drop=1")
        host.send(request("2 PING"))
        await wait_for(lambda: sim.link_faults.dropped_tx == 1, what="the reply dropped")

        sim.inject("drop=0")
        sim.inject("crc_rx=1")
        host.send(request("3 PING"))
        await wait_for(lambda: sim.link_faults.corrupted_rx == 1, what="the request treated as corrupted")

        sim.inject("crc_rx=0")
        sim.inject("silence=on")
        host.send(request("4 PING"))
        await wait_for(lambda: sim.link_faults.silenced_tx == 1, what="the reply silenced")
        assert sim.controller.counters.frames_rx == 3, "silence is on the board's transmit side only"

        sim.inject("silence=off")
        sim.inject("slow=200")
        host.send(request("5 PING"))
        loop_time = asyncio.get_running_loop().time
        sent_at = loop_time()
        await wait_for(lambda: any(f.seq == 5 for f in host.frames()), what="the slow reply")
        assert loop_time() - sent_at >= 0.19
        assert [f.seq for f in host.frames() if f.seq is not None] == [5], "1-4 never arrived intact"

        sim.inject("slow=0")
        sim.inject("reset")
        await wait_for(lambda: any(f.verb == "BOOT" for f in host.frames()), what="BOOT")
        assert sim.controller.counters.boots == 2, "power-on BOOT, then the injected reset"
    finally:
        host.close()


async def test_unplug_replug_and_timed_unplug(make_sim: SimFactory) -> None:
    sim = await make_sim()
    first = sim.slave_path
    sim.inject("unplug")
    assert sim.snapshot()["slave_path"] is None and not os.path.lexists(sim.port_path)
    second = sim.replug()
    assert os.path.realpath(sim.port_path) == second and os.path.exists(second)
    sim.replugged.clear()
    sim.inject("unplug=300")
    assert not os.path.lexists(sim.port_path)
    await wait_for(lambda: sim.replugged.is_set(), what="the timed replug")
    assert os.path.realpath(sim.port_path) == sim.slave_path
    assert first.startswith("/dev/pts/")
