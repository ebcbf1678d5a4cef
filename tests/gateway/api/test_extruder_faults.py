"""One test per fault class, through the whole stack: a simulated controller on a real pty, the control
process (mock GPIO) driving it, the gateway's API and audit log.

Each case heats a zone, injects the fault in the simulator (or on the e-stop pin), and shows: the heater
output the simulator applies goes to 0 within one control period (+ link latency) of the latch, the fault
is latched and visible in the API and in the audit log, a reset is refused while its cause persists, and
once the cause is gone a reset clears it (and leaves the heater off: setpoints are cleared by a fault).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from firmware_bridge.telemetry import Fault
from gateway.control.ipc import DriveMockPin
from tests.support.extruder import ExtruderSite, SiteFactory

SPEED = 50.0
"""Plant seconds per real second: heat-up, cooling and the safety periods all run 50x faster."""
PERIOD_S = 0.1
OFF_MARGIN_S = 0.5
"""Allowance beyond one period for the OUT frame to cross the pty on a loaded test machine."""
ESTOP_PIN = 17

Step = Callable[[ExtruderSite], Awaitable[None]]


async def _nothing(site: ExtruderSite) -> None:
    return None


def _inject(*commands: str) -> Step:
    async def step(site: ExtruderSite) -> None:
        for command in commands:
            site.sim.inject(command)
    return step


async def _latch_brownout(site: ExtruderSite) -> None:
    site.sim.controller.latch(Fault.BROWNOUT, None, time.monotonic())


async def _press_estop(site: ExtruderSite) -> None:
    reply = await site.client.request(DriveMockPin, pin=ESTOP_PIN, high=False)
    assert reply.ok, reply


async def _release_estop(site: ExtruderSite) -> None:
    reply = await site.client.request(DriveMockPin, pin=ESTOP_PIN, high=True)
    assert reply.ok, reply


async def _api_estop(site: ExtruderSite) -> None:
    reply = await site.call("POST", "/api/v1/extruder/estop", "viewer")
    assert reply.status == 200, reply.body


async def _cool_below_max(site: ExtruderSite) -> None:
    await site.wait_sim(lambda s: s["readings"][0] < 58.0, 15.0, "zone 0 to cool below its max")


@dataclass
class Case:
    code: str
    inject: Step
    heal: Step
    setpoint_c: float = 150.0
    hold_first: bool = False
    """Wait until the zone holds before injecting (runaway is judged while holding)."""
    persists: bool = True
    """A reset right after the latch must be refused (the cause is still there)."""
    zone: dict[str, Any] = field(default_factory=dict)
    speed: float = SPEED
    after_off: Step = _nothing
    """Run as soon as the heater is seen off (a stuck relay is repaired, the zone still too hot)."""


LENIENT_WATCH = {"watch_period_s": 1.0}
"""At 100x the scaled heating watch (0.2 s) would be two loop periods, coarser than the telemetry it
judges on a loaded machine; these cases test other faults, so the watch gets 100 plant seconds."""

CASES = [
    Case("sensor_open", _inject("sensor=0:open"), _inject("sensor=0:ok")),
    Case("sensor_short", _inject("sensor=0:short"), _inject("sensor=0:ok")),
    Case("heating_failed", _inject("heater=0:dead"), _inject("heater=0:ok"), persists=False),
    Case("runaway", _inject("heater=0:dead"), _inject("heater=0:ok"), setpoint_c=70.0, hold_first=True,
         persists=False, speed=100.0, zone=LENIENT_WATCH),
    Case("overtemp", _inject("heater=0:stuck"), _cool_below_max, setpoint_c=45.0, zone={"max_c": 60.0, **LENIENT_WATCH},
         speed=100.0, after_off=_inject("heater=0:ok")),
    Case("link_lost", _inject("silence=on"), _inject("silence=off")),
    Case("controller_fault", _latch_brownout, _nothing, persists=False),
    Case("estop", _press_estop, _release_estop),
    Case("estop", _api_estop, _nothing, persists=False),
]
IDS = ["sensor_open", "sensor_short", "heating_failed", "runaway", "overtemp", "link_lost-silence",
       "controller_fault-brownout", "estop-gpio_pin", "estop-api"]


def _codes(state: dict[str, Any]) -> set[str]:
    return {f["code"] for f in state["faults"]}


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_fault_turns_heater_off_latches_and_clears_only_by_reset(extruder_site: SiteFactory, case: Case) -> None:
    site = await extruder_site(speed=case.speed, zone=case.zone)
    put = await site.call("PUT", "/api/v1/extruder/zones/0", "technician", {"setpoint_c": case.setpoint_c})
    assert put.status == 200, put.body
    await site.wait_sim(lambda s: s["applied"][0] > 0, 3.0, "the heater to come on")
    if case.hold_first:
        await site.wait_state(lambda s: s["zones"][0]["state"] == "holding", 15.0, "zone 0 to hold")
    assert not (await site.state())["faults"], "no fault before the injection"

    await case.inject(site)
    if case.hold_first:  # the zone sags: the PID calls for heat before the supervisor trips
        await site.wait_sim(lambda s: s["applied"][0] > 0, 5.0, "the PID to call for heat while holding")
    off_wall = None
    deadline = time.monotonic() + 20.0
    while time.monotonic() < deadline:  # the moment the simulator stops applying power
        if site.sim.snapshot()["applied"][0] == 0:
            off_wall = time.time()
            break
        await asyncio.sleep(0.002)
    assert off_wall is not None, f"heater still on: {site.sim.snapshot()}"
    await case.after_off(site)
    state = await site.wait_state(lambda s: case.code in _codes(s), 5.0, f"{case.code} latched")
    fault = next(f for f in state["faults"] if f["code"] == case.code)
    latched_wall = state["ts"] - fault["age_s"]
    assert off_wall - latched_wall <= PERIOD_S + OFF_MARGIN_S, (off_wall - latched_wall, fault)
    assert state["zones"][0]["state"] == "fault"
    assert state["zones"][0]["setpoint_c"] is None
    assert state["gpio"]["interlock_on"] is False and state["gpio"]["light"] == "red"
    assert _codes(state) <= {case.code, "stale", "controller_fault", "link_lost", "sensor_open", "sensor_short"}

    await asyncio.sleep(3 * PERIOD_S)
    assert site.sim.snapshot()["applied"][0] == 0, "latched: stays off"
    assert case.code in _codes(await site.state())
    audit = await site.audit_actions()
    assert any(a == "extruder.fault" and o == "latched" for a, o, _ in audit), audit

    if case.persists:
        refused = await site.call("POST", "/api/v1/extruder/reset", "technician")
        assert refused.status == 409, refused.body
        assert refused.json()["error"]["code"] == "fault_active"
        message = refused.json()["error"]["message"]
        assert "<" not in message and "SensorFailure" not in message, f"plain words: {message}"
        if case.code in ("sensor_open", "sensor_short"):
            assert f"sensor still reads {case.code.removeprefix('sensor_')}" in message, message
        assert case.code in _codes(await site.state())

    await case.heal(site)
    state = await _reset_until_clear(site)
    assert state["faults"] == []
    assert state["zones"][0]["setpoint_c"] is None and state["zones"][0]["output"] == 0.0
    assert state["gpio"]["interlock_on"] is True
    await asyncio.sleep(3 * PERIOD_S)
    assert site.sim.snapshot()["applied"][0] == 0, "a reset never turns a heater back on by itself"
    audit = await site.audit_actions()
    assert ("extruder.reset", "ok", "extruder") in audit
    if case.persists:
        assert ("extruder.reset", "failed", "extruder") in audit


async def _reset_until_clear(site: ExtruderSite) -> dict[str, Any]:
    """Reset once the cause is gone; the link may first need to come back up (and report a fresh sample)."""
    deadline = time.monotonic() + 10.0
    last = None
    while time.monotonic() < deadline:
        last = await site.call("POST", "/api/v1/extruder/reset", "technician")
        if last.status == 200:
            return await site.wait_state(lambda s: not s["faults"], 2.0, "faults cleared")
        assert last.status in (409, 503), last.body
        await asyncio.sleep(0.2)
    raise AssertionError(f"reset never succeeded: {last.body if last else None}")
