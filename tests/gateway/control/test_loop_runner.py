"""The loop runner in-process: a real pty simulator, mock GPIO pins, the real link.

- If the loop dies (an exception in a period), the heaters are commanded off and the interlock opens.
- It runs on absolute deadlines: after N seconds it has run about N * rate periods, none missed idle.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from firmware_bridge.link import SerialLink
from firmware_bridge.simulator.controller import ControllerConfig
from firmware_bridge.simulator.runtime import Simulator, SimulatorConfig
from gateway.control.gpio import GpioPanel, make_pin_factory
from gateway.control.loop import ControlLoop
from gateway.control.settings import ExtruderSection
from tests.support.extruder import extruder_section

SPEED = 20.0


class DyingLoop(ControlLoop):
    """Raises in the period after ``die`` is set (a bug in a period)."""

    die = False

    def step(self, now: float) -> None:
        if self.die:
            raise RuntimeError("bug in a period")
        super().step(now)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[tuple[Simulator, SerialLink, GpioPanel, ExtruderSection]]:
    link_path = str(tmp_path / "ttyLOOP")
    settings = ExtruderSection.model_validate(extruder_section(link_path, SPEED))
    async with Simulator(SimulatorConfig(controller=ControllerConfig(zones=1, speed=SPEED), link_path=link_path)) as sim:
        link = SerialLink(link_path, 1, telemetry_period_ms=settings.link_telemetry_ms)
        gpio = GpioPanel(settings.gpio, make_pin_factory(settings.gpio))
        await link.start()
        await link.wait_up(5.0)
        try:
            yield sim, link, gpio, settings
        finally:
            await link.stop()
            gpio.close()


async def test_a_dying_loop_turns_heaters_off_and_opens_the_interlock(rig) -> None:  # type: ignore[no-untyped-def]
    sim, link, gpio, settings = rig
    loop = DyingLoop(settings, link, gpio)
    task = asyncio.create_task(loop.run())
    await asyncio.sleep(0.3)
    loop.setpoints[0] = 150.0
    deadline = time.monotonic() + 3
    while sim.snapshot()["applied"][0] == 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert sim.snapshot()["applied"][0] > 0 and gpio.interlock_on
    loop.die = True
    with pytest.raises(RuntimeError, match="bug in a period"):
        await task
    assert loop.alive is False
    assert gpio.interlock_on is False and gpio.light == "red"
    deadline = time.monotonic() + 1
    while sim.snapshot()["applied"][0] != 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.005)
    assert sim.snapshot()["applied"][0] == 0, "commanded off at once (the heartbeat would follow after 1 s)"


async def test_runs_on_absolute_deadlines(rig) -> None:  # type: ignore[no-untyped-def]
    sim, link, gpio, settings = rig
    loop = ControlLoop(settings, link, gpio)
    started = time.monotonic()
    task = asyncio.create_task(loop.run())
    await asyncio.sleep(2.0)
    await loop.next_period()
    elapsed = time.monotonic() - started
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    periods = loop.stats.periods + loop.stats.missed_periods
    assert abs(periods - elapsed * settings.loop_rate_hz) <= 2, (periods, elapsed)
    assert gpio.interlock_on is False, "a cancelled loop leaves the interlock open"
