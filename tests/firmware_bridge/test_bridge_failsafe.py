"""Heater safety: every way the host can go away, or the board can fault, ends with heaters off."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import pytest

from tests.firmware_bridge.fb_helpers import PYTHON, wait_for
from firmware_bridge.errors import RequestRejected
from firmware_bridge.link_logic import LossLimits
from firmware_bridge.messages import LinkState
from firmware_bridge.telemetry import Fault, FaultEvent, SensorFailure, Telemetry

if TYPE_CHECKING:
    from tests.firmware_bridge.fb_helpers import LinkFactory, SimFactory

HOST_PROC = __file__.replace("test_bridge_failsafe.py", "host_proc.py")
TICK_SLACK_S = 0.1
"""Lateness allowed for the board's 5 ms tick on a loaded machine."""


async def test_killed_host_heaters_off_within_hb_and_host_timeout_latched(make_sim: SimFactory) -> None:
    hb_ms = 1000
    sim = await make_sim(hb_ms=hb_ms)
    proc = await asyncio.create_subprocess_exec(
        PYTHON, HOST_PROC, sim.port_path, "3", stdout=asyncio.subprocess.PIPE
    )
    try:
        async with asyncio.timeout(15.0):
            assert (await proc.stdout.readline()).strip() == b"heaters-on"  # type: ignore[union-attr]
        assert sim.controller.applied == [700, 700, 700] and sim.controller.motor_rpm == 30.0
    finally:
        proc.kill()
        await proc.wait()
    killed_at = time.monotonic()
    c = sim.controller
    await wait_for(lambda: Fault.HOST_TIMEOUT in c.faults, timeout_s=hb_ms / 1000 + 2.0, what="host_timeout")
    assert c.applied == [0, 0, 0] and sim.plant.rpm_command == 0.0
    assert c.last_rx is not None and c.last_rx <= killed_at
    off_after_s = c.latched_at[Fault.HOST_TIMEOUT] - c.last_rx
    assert hb_ms / 1000 <= off_after_s <= hb_ms / 1000 + TICK_SLACK_S
    assert sim.snapshot()["heater_power_w"] == [0.0, 0.0, 0.0]


async def test_stopped_host_switches_heaters_off_then_heartbeat_latches(
    make_sim: SimFactory, make_link: LinkFactory
) -> None:
    sim = await make_sim(hb_ms=500)
    link = await make_link(sim.port_path, 3, loss=LossLimits(lost_ms=500))  # the window must fit hb
    await link.request("OUT", d0=900, d1=900, d2=900)
    await link.request("MOTOR", rpm=20)
    await link.stop()
    assert link.state is LinkState.DISCONNECTED
    assert sim.controller.applied == [0, 0, 0] and sim.controller.motor_rpm == 0.0
    assert sim.controller.tel_ms == 0
    await wait_for(lambda: Fault.HOST_TIMEOUT in sim.controller.faults, timeout_s=2.5, what="host_timeout")


async def _fault_event(link_events, code: Fault) -> FaultEvent:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(5.0):
        async for event in link_events:
            if isinstance(event, FaultEvent) and event.code is code:
                return event
    raise AssertionError("no fault event")


async def _telemetry_with_fault(link_events, code: Fault) -> Telemetry:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(5.0):
        async for event in link_events:
            if isinstance(event, Telemetry) and event.fault is code:
                return event
    raise AssertionError("no telemetry with the fault")


async def test_estop_turns_everything_off_and_refuses_outputs(make_sim: SimFactory, make_link: LinkFactory) -> None:
    sim = await make_sim()
    link = await make_link(sim.port_path, 3, telemetry_period_ms=50)
    events = link.subscribe()
    await link.request("OUT", d0=500, d1=500, d2=500)
    await link.request("MOTOR", rpm=40)
    await link.request("ESTOP")
    assert (await _fault_event(events, Fault.ESTOP)).zone is None
    tel = await _telemetry_with_fault(events, Fault.ESTOP)
    assert tel.outputs_permille == (0, 0, 0)
    assert link.zone_faults() == (True, True, True)
    with pytest.raises(RequestRejected) as rejected:
        await link.request("OUT", d0=1)
    assert rejected.value.code == "faulted"
    with pytest.raises(RequestRejected) as rejected:
        await link.request("MOTOR", rpm=5)
    assert rejected.value.code == "faulted"
    await link.request("OUT", d0=0)
    await link.request("CLEAR")
    assert (await link.request("STATUS")).fields["fault"] == "none"


async def test_sensor_fault_turns_every_heater_off(make_sim: SimFactory, make_link: LinkFactory) -> None:
    sim = await make_sim()
    link = await make_link(sim.port_path, 3, telemetry_period_ms=50)
    events = link.subscribe()
    await link.request("OUT", d0=800, d1=800, d2=800)
    sim.inject("sensor=1:open")
    assert (await _fault_event(events, Fault.SENSOR)).zone == 1
    tel = await _telemetry_with_fault(events, Fault.SENSOR)
    assert tel.outputs_permille == (0, 0, 0) and tel.temps_c[1] is SensorFailure.OPEN
    assert sim.plant.heater_power_w(0) == 0.0
    with pytest.raises(RequestRejected) as rejected:
        await link.request("CLEAR")
    assert rejected.value.code == "active"
    sim.inject("sensor=1:ok")
    await wait_for(lambda: isinstance(sim.controller.readings[1], float), what="sensor repaired")
    await link.request("CLEAR")


@pytest.mark.parametrize("cause", ["full power", "stuck heater"])
async def test_overtemp_turns_every_heater_off(make_sim: SimFactory, make_link: LinkFactory, cause: str) -> None:
    sim = await make_sim(tmax_c=60.0, speed=200.0)
    link = await make_link(sim.port_path, 3, telemetry_period_ms=50)
    events = link.subscribe()
    if cause == "full power":
        await link.request("OUT", d0=1000, d1=400)
        hot_zone = 0
    else:
        await link.request("OUT", d0=200)
        sim.inject("heater=2:stuck")
        hot_zone = 2
    assert (await _fault_event(events, Fault.OVERTEMP)).zone == hot_zone
    tel = await _telemetry_with_fault(events, Fault.OVERTEMP)
    assert tel.outputs_permille == (0, 0, 0)
    assert link.zone_faults() == (True, True, True)
    assert sim.controller.applied == [0, 0, 0]
