"""Printer test fixtures: the session's mosquitto, in-process simulators, gateways watching printers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from gateway.factory import Gateway, create_gateway
from gateway.printers.simulator.broker import SIMULATOR_USERNAME, Mosquitto
from gateway.printers.simulator.client import BrokerAddress, PrinterSimulator
from gateway.printers.simulator.model import SimulatedPrinter
from gateway.secrets.fernet import encrypt, load_or_create_key
from tests.support.gateway import make_config
from tests.support.mosquitto import (  # noqa: F401  (fixtures)
    ACCESS_CODE,
    PRINTER_SERIAL,
    SIMULATOR_PASSWORD,
    BrokerCerts,
    broker_certs,
    make_broker,
    printer_broker,
)

SimulatorFactory = Callable[..., Awaitable[PrinterSimulator]]
GatewayFactory = Callable[..., Awaitable[Gateway]]


@pytest.fixture
async def simulators(broker_certs: BrokerCerts) -> AsyncIterator[SimulatorFactory]:
    tasks: list[asyncio.Task[None]] = []

    async def start(broker: Mosquitto, serial: str = PRINTER_SERIAL, *, rate_hz: float = 5.0,
                    model: SimulatedPrinter | None = None) -> PrinterSimulator:
        address = BrokerAddress("127.0.0.1", broker.port, SIMULATOR_USERNAME, SIMULATOR_PASSWORD,
                                broker_certs.ca_file)
        simulator = PrinterSimulator(model or SimulatedPrinter(serial), address, rate_hz=rate_hz)
        tasks.append(asyncio.create_task(simulator.run()))
        await asyncio.wait_for(simulator.connected.wait(), 10)
        return simulator

    yield start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def printer_entry(broker: Mosquitto, serial: str = PRINTER_SERIAL, **fields: Any) -> dict[str, Any]:
    return {"serial": serial, "name": f"test {serial[-4:]}", "host": "127.0.0.1", "port": broker.port, **fields}


@pytest.fixture
async def printer_gateway(tmp_path: Path) -> AsyncIterator[GatewayFactory]:
    """Start a gateway watching `printers` (entries may give `access_code` in plain text; it is encrypted)."""
    started: list[Gateway] = []

    async def start(printers: list[dict[str, Any]], **section: Any) -> Gateway:
        state_dir = tmp_path / f"state{len(started)}"
        key = load_or_create_key(state_dir / "secrets.key")
        entries = []
        for entry in printers:
            entry = dict(entry)
            entry["access_code_encrypted"] = encrypt(key, entry.pop("access_code", ACCESS_CODE))
            entries.append(entry)
        config = make_config(state_dir, printers={"printers": entries, "reconnect_initial_s": 0.2,
                                                  "reconnect_max_s": 1.0, **section})
        gateway = await create_gateway(config)
        await gateway.start()
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        await gateway.stop()


async def eventually(check: Callable[[], Awaitable[Any]], timeout_s: float = 10.0, interval_s: float = 0.05) -> Any:
    """Poll `check` until it returns something truthy; fail with its last value after the deadline."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval_s)
    raise AssertionError(f"condition not met within {timeout_s} s; last value: {last!r}")
