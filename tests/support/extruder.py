"""Extruder test site: a simulated controller on a real pty (in this process, so tests can inject faults
and read its outputs), and a real gateway whose control process drives it, over loopback HTTP.

The plant can run faster than real time (``speed``): its thermal time constants shrink by that factor,
so :func:`scaled_zone` scales the time-based gains and safety periods by the same factor (the
regulation is then the same as on the real-time plant, in plant seconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from firmware_bridge.simulator.control import send_command
from firmware_bridge.simulator.controller import ControllerConfig
from firmware_bridge.simulator.runtime import Simulator, SimulatorConfig
from gateway.control import const
from gateway.factory import Gateway, create_gateway
from tests.support.gateway import ApiClient, issue, make_config

ROLES = ("viewer", "technician", "admin", "sync")


def scaled_zone(speed: float, **overrides: Any) -> dict[str, Any]:
    """Zone config for a plant running ``speed`` times faster: time-based terms scaled accordingly."""
    zone: dict[str, Any] = {
        "kp": const.PID_KP_DEFAULT,
        "ki": const.PID_KI_DEFAULT * speed,
        "kd": const.PID_KD_DEFAULT / speed,
        "derivative_filter_s": const.PID_DERIVATIVE_FILTER_S / speed,
        "runaway_period_s": const.RUNAWAY_PERIOD_S / speed,
        "watch_period_s": const.WATCH_PERIOD_S / speed,
    }
    zone.update(overrides)
    return zone


def extruder_section(port: str, speed: float, zones: int = 1, *, loop_rate_hz: float = 10.0,
                     zone: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "enabled": True,
        "port": port,
        "zones": [scaled_zone(speed, **(zone or {})) for _ in range(zones)],
        "loop_rate_hz": loop_rate_hz,
        "telemetry_period_s": 0.5,
        "gpio": {"pin_factory": "mock"},
        **extra,
    }


class SimProcess:
    """``python -m firmware_bridge.simulator`` in its own process (its timing then does not depend on
    this test process, which also runs the gateway); state and injections over its control socket."""

    def __init__(self, proc: asyncio.subprocess.Process, control: str) -> None:
        self.proc = proc
        self.control = control

    @classmethod
    async def start(cls, link: str, control: str, *, zones: int, speed: float, hb_ms: int, tmax_c: float,
                    args: tuple[str, ...] = ()) -> SimProcess:
        """``args``: more command-line options (``--tel-drift 4``, ``--fault burst=0.2``, ``--seed 3``...)."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "firmware_bridge.simulator", "--zones", str(zones), "--speed", str(speed),
            "--hb", str(hb_ms), "--tmax", str(tmax_c), "--link", link, "--control", control, *args,
            stdout=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None
        async with asyncio.timeout(20):
            await proc.stdout.readline()  # the pty path: up
        return cls(proc, control)

    async def snapshot(self) -> dict[str, Any]:
        answer = await send_command(self.control, "state")
        assert answer["ok"], answer
        return answer["state"]  # type: ignore[no-any-return]

    async def inject(self, command: str) -> None:
        """One injection command (``silence=on``, ``reset``, ``fault_event=melted:0``...)."""
        answer = await send_command(self.control, command)
        assert answer["ok"], answer

    async def stop(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.terminate()
            await self.proc.wait()


@dataclass
class ExtruderSite:
    gateway: Gateway
    sim: Simulator
    api: ApiClient
    tokens: dict[str, str] = field(default_factory=dict)
    sim_process: SimProcess | None = None

    @property
    def client(self) -> Any:
        assert self.gateway.extruder is not None
        return self.gateway.extruder

    async def call(self, method: str, path: str, role: str = "admin", json: Any = None) -> Any:
        return await self.api.request(method, path, token=self.tokens[role], json=json)

    async def state(self) -> dict[str, Any]:
        reply = await self.call("GET", "/api/v1/extruder", "viewer")
        assert reply.status == 200, reply.body
        return reply.json()  # type: ignore[no-any-return]

    async def wait_state(self, predicate: Callable[[dict[str, Any]], bool], timeout_s: float, what: str) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        last: dict[str, Any] = {}
        while time.monotonic() < deadline:
            reply = await self.call("GET", "/api/v1/extruder", "viewer")
            if reply.status == 200:
                last = reply.json()
                if predicate(last):
                    return last
            await asyncio.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; last state: {last}")

    async def wait_sim(self, predicate: Callable[[dict[str, Any]], bool], timeout_s: float, what: str) -> float:
        """Poll the simulator's snapshot until ``predicate``; returns the seconds it took."""
        start = time.monotonic()
        while time.monotonic() - start < timeout_s:
            if predicate(self.sim.snapshot()):
                return time.monotonic() - start
            await asyncio.sleep(0.005)
        raise AssertionError(f"timed out waiting for {what}; simulator: {self.sim.snapshot()}")

    async def audit_actions(self) -> list[tuple[str, str, str | None]]:
        entries = await self.gateway.context.audit.list(limit=500)
        return [(e.action, e.outcome, e.target) for e in entries]


SiteFactory = Callable[..., Awaitable[ExtruderSite]]


@pytest.fixture
async def extruder_site(tmp_path: Path) -> AsyncIterator[SiteFactory]:
    """``await extruder_site(speed=20, zones=1, hb_ms=1000, tmax_c=300, loop_rate_hz=10, zone={...})``;
    ``sim_process=True`` runs the simulator in its own process (``sim_args``: its extra options)."""
    started: list[tuple[Gateway, Simulator | SimProcess, ApiClient]] = []

    async def factory(*, speed: float = 20.0, zones: int = 1, hb_ms: int = 1000, tmax_c: float = 300.0,
                      zone: dict[str, Any] | None = None, loop_rate_hz: float = 10.0, sim_process: bool = False,
                      sim_args: tuple[str, ...] = (), sections: dict[str, Any] | None = None,
                      **extra: Any) -> ExtruderSite:
        link = str(tmp_path / f"ttyEXT{len(started)}")
        sim: Simulator | SimProcess
        if sim_process:
            sim = await SimProcess.start(link, str(tmp_path / f"sim{len(started)}.sock"), zones=zones, speed=speed,
                                         hb_ms=hb_ms, tmax_c=tmax_c, args=sim_args)
        else:
            sim = Simulator(SimulatorConfig(
                controller=ControllerConfig(zones=zones, speed=speed, hb_ms=hb_ms, tmax_c=tmax_c), link_path=link,
            ))
            await sim.start()
        config = make_config(tmp_path / f"state{len(started)}",
                             extruder=extruder_section(link, speed, zones, loop_rate_hz=loop_rate_hz, zone=zone, **extra),
                             **(sections or {}))
        gw = await create_gateway(config)
        await gw.start()
        api = ApiClient(gw.urls[0])
        started.append((gw, sim, api))
        site = ExtruderSite(gw, sim, api) if isinstance(sim, Simulator) else ExtruderSite(gw, None, api, sim_process=sim)  # type: ignore[arg-type]
        for role in ROLES:
            site.tokens[role] = await issue(gw, role)
        await site.wait_state(lambda s: s["link"]["state"] == "up" and all(z["temp_c"] is not None for z in s["zones"]),
                              20.0, "the control process to bring the link up")
        return site

    yield factory
    for gw, sim, api in reversed(started):
        await api.close()
        await gw.stop()
        await sim.stop()
