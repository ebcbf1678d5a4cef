"""Fixtures for the firmware_bridge tests: simulators on real ptys and links to them.

Every fixture stops what it started, so no pty, symlink or process outlives a test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from tests.firmware_bridge.fb_helpers import LinkFactory, SimFactory

from firmware_bridge.link import SerialLink
from firmware_bridge.simulator.controller import ControllerConfig
from firmware_bridge.simulator.runtime import Simulator, SimulatorConfig


@pytest.fixture
async def make_sim(tmp_path: Path) -> AsyncIterator[SimFactory]:
    """Start in-process simulators: ``await make_sim(zones=3, speed=1.0, tmax_c=..., hb_ms=..., seed=...)``.

    Each gets a stable symlink ``tmp_path/ttySIM<n>`` (``sim.port_path``).
    """
    sims: list[Simulator] = []

    async def factory(seed: int = 1, **controller: Any) -> Simulator:
        link = str(tmp_path / f"ttySIM{len(sims)}")
        sim = Simulator(SimulatorConfig(controller=ControllerConfig(**controller), link_path=link, seed=seed))
        sims.append(sim)
        await sim.start()
        return sim

    yield factory
    for sim in sims:
        await sim.stop()


@pytest.fixture
async def make_link() -> AsyncIterator[LinkFactory]:
    """Start links and wait until they are up: ``await make_link(path, zones, **kwargs)``.

    Pass ``wait=False`` to get a link that is only started.
    """
    links: list[SerialLink] = []

    async def factory(path: str, zones: int = 3, wait: bool = True, **kwargs: Any) -> SerialLink:
        link = SerialLink(path, zones, **kwargs)
        links.append(link)
        await link.start()
        if wait:
            await link.wait_up(5.0)
        return link

    yield factory
    for link in links:
        await link.stop()
