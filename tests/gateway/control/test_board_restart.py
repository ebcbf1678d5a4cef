"""A board that restarts where nobody hears it, and one that reports many different FAULT events.

In-process: a real pty simulator, the real link and the real loop (mock GPIO pins).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from firmware_bridge.link import SerialLink
from firmware_bridge.messages import LinkState
from firmware_bridge.simulator.controller import ControllerConfig
from firmware_bridge.simulator.evidence import BootReason
from firmware_bridge.simulator.runtime import Simulator, SimulatorConfig
from gateway.control.commands import CommandHandler
from gateway.control.gpio import GpioPanel, make_pin_factory
from gateway.control.ipc import SetSetpoint
from gateway.control.loop import ControlLoop
from gateway.control.settings import ExtruderSection
from tests.support.extruder import extruder_section

SPEED = 20.0


@dataclass
class Rig:
    sim: Simulator
    link: SerialLink
    loop: ControlLoop
    commands: CommandHandler
    events: list[tuple[str, int | None, dict[str, Any]]] = field(default_factory=list)

    def latched(self, code: str) -> list[dict[str, Any]]:
        return [d for e, _, d in self.events if e == "fault" and d["code"] == code]

    async def heat(self) -> None:
        reply = await self.commands.handle(SetSetpoint(id=1, zone=0, setpoint_c=200.0))
        assert reply.ok, reply
        deadline = time.monotonic() + 3
        while self.sim.controller.applied[0] == 0:
            assert time.monotonic() < deadline, "the heater never came on"
            await asyncio.sleep(0.01)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    link_path = str(tmp_path / "ttyRESTART")
    settings = ExtruderSection.model_validate(extruder_section(link_path, SPEED))
    async with Simulator(SimulatorConfig(controller=ControllerConfig(zones=1, speed=SPEED), link_path=link_path)) as sim:
        link = SerialLink(link_path, 1, telemetry_period_ms=settings.link_telemetry_ms, loss=settings.loss_limits())
        gpio = GpioPanel(settings.gpio, make_pin_factory(settings.gpio))
        events: list[tuple[str, int | None, dict[str, Any]]] = []
        loop = ControlLoop(settings, link, gpio, on_event=lambda e, z, d: events.append((e, z, d)))
        await link.start()
        await link.wait_up(5.0)
        runner = asyncio.create_task(loop.run())
        try:
            yield Rig(sim, link, loop, CommandHandler(loop), events)
        finally:
            runner.cancel()
            with pytest.raises(asyncio.CancelledError):
                await runner
            await link.stop()
            gpio.close()


async def test_a_restart_whose_boot_line_was_lost_is_found_and_latched(rig: Rig) -> None:
    """A rebooted board has telemetry off; its single BOOT line lost on the wire. The host asks the
    board's uptime once telemetry is missing, finds it went back, and treats it as a BOOT."""
    await rig.heat()
    boot = rig.sim.controller.boot
    rig.sim.controller.boot = lambda now: (boot(now), [])[1]  # the board restarts; its BOOT never arrives
    rebooted = time.monotonic()
    rig.sim.boot(BootReason.REBOOT)
    while not rig.latched("controller_reset"):
        assert time.monotonic() - rebooted < 1.0, "not found before the loss window"
        await asyncio.sleep(0.01)
    found_after_s = time.monotonic() - rebooted
    fault = rig.latched("controller_reset")[0]
    assert "restart inferred" in fault["detail"] and rig.loop.setpoints == [None]
    await asyncio.sleep(0.5)
    record = rig.sim.snapshot()["boots"][-1]
    assert rig.sim.controller.applied == [0] and rig.link.state is LinkState.UP
    late = [o for o in record["nonzero_out"] if o["at_ms"] > found_after_s * 1000]
    assert late == [], f"non-zero OUT after the restart was found: {late}"
    assert record["out_nonzero"] <= 4, f"only the periods before it could be found: {record['nonzero_out']}"
    assert rig.link.counters.inferred_boots == 1 and rig.link.counters.link_losses == 0


async def test_every_different_fault_event_is_latched_and_reported(rig: Rig) -> None:
    await rig.heat()
    for event in ("fault_event=overtemp:-", "fault_event=sensor:0", "fault_event=brownout:0",
                  "fault_event=sensor:0"):
        rig.sim.inject(event)
    await asyncio.sleep(0.2)
    details = [d["detail"] for d in rig.latched("controller_fault")]
    assert len(details) == 3, details  # the repeated sensor:0 is the same fault
    assert any("overtemp on the whole board" in d for d in details)
    assert any("sensor on zone 0" in d for d in details) and any("brownout on zone 0" in d for d in details)
    assert rig.sim.controller.applied == [0] and rig.loop.setpoints == [None]
