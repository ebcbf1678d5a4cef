"""The gateway against printers that behave as real Bambu printers do (a simulator written from public
protocol notes, not from our client): their own sequence ids, P1-style deltas, silence while connected,
slow and double answers to pushall, a broker restart. Real TLS mosquitto, the real HTTP API.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from typing import Any

from gateway.factory import Gateway
from gateway.printers.simulator.broker import Mosquitto
from gateway.printers.simulator.client import PrinterSimulator
from tests.gateway.printers.conftest import GatewayFactory, SimulatorFactory, eventually, printer_entry
from tests.support.gateway import ApiClient, issue
from tests.support.mosquitto import PRINTER_SERIAL, BrokerCerts

COMPLETE_WITHIN_S = 5.0
OFFLINE_AFTER_S = 3.0
OFFLINE_SLACK_S = 2.0
SAMPLE_INTERVAL_S = 1.0
READ_FIELDS = ("gcode_state", "progress", "layer", "total_layers", "remaining_min", "nozzle_c", "nozzle_target_c",
               "bed_c", "bed_target_c", "chamber_c")


class Site:
    def __init__(self, gateway: Gateway, sim: PrinterSimulator) -> None:
        self.gateway, self.sim = gateway, sim
        self.api = ApiClient(gateway.urls[0])
        self.tokens: dict[str, str] = {}

    async def token(self, role: str) -> str:
        if role not in self.tokens:
            self.tokens[role] = await issue(self.gateway, role)
        return self.tokens[role]

    async def printer(self) -> dict[str, Any]:
        reply = await self.api.request("GET", f"/api/v1/printers/{PRINTER_SERIAL}", token=await self.token("viewer"))
        assert reply.status == 200, reply.body
        return reply.json()  # type: ignore[no-any-return]

    async def command(self, body: dict[str, Any]) -> Any:
        return await self.api.request("POST", f"/api/v1/printers/{PRINTER_SERIAL}/commands",
                                      token=await self.token("admin"), json=body)


async def start(printer_broker: Mosquitto, broker_certs: BrokerCerts, simulators: SimulatorFactory,
                printer_gateway: GatewayFactory, **section: Any) -> Site:
    sim = await simulators(printer_broker)  # P1-style: deltas of what changed; full report only on pushall
    gateway = await printer_gateway([printer_entry(printer_broker, ca_file=str(broker_certs.ca_file))], **section)
    return Site(gateway, sim)


async def test_a_printer_that_never_echoes_our_ids(
    printer_broker: Mosquitto, broker_certs: BrokerCerts, simulators: SimulatorFactory,
    printer_gateway: GatewayFactory,
) -> None:
    begun = time.monotonic()
    site = await start(printer_broker, broker_certs, simulators, printer_gateway)
    try:
        state = await eventually(lambda: _complete(site), timeout_s=COMPLETE_WITHIN_S + 5)
        took_s = time.monotonic() - begun
        assert took_s <= COMPLETE_WITHIN_S + 1.0, f"state complete after {took_s:.1f} s"  # +1 s: the sim's own start
        assert state["full_reports"] >= 1
        reply = await site.command({"command": "pushall"})
        assert reply.status == 202, reply.body
        sequence_id = reply.json()["sequence_id"]

        async def answered() -> dict[str, Any] | None:
            records = (await site.printer())["commands"]
            return next((r for r in records if r["sequence_id"] == sequence_id and r["status"] != "sent"), None)

        record = await eventually(answered)
        assert record["status"] == "ok", record
        assert sequence_id not in site.sim.requests.sequence_ids("push_status"), "the printer never echoed ours"
        await asyncio.sleep(8.0)  # deltas flowing: no silence, so the gateway asks nothing more
        per_session = site.sim.requests.per_session("pushall")
        assert per_session == {1: 2}, f"one on connect, one asked through the API: {per_session}"
        site.sim.disconnect(for_s=0.5)  # the printer drops off and comes back: one more on the reconnect
        await site.sim.wait_session(2, timeout_s=10)
        await eventually(lambda: _complete(site), timeout_s=10)
        await asyncio.sleep(3.0)
        assert site.sim.requests.per_session("pushall").get(2, 0) <= 1
        assert site.gateway.printers is not None
        assert site.gateway.printers.manager.get(PRINTER_SERIAL).state.pushalls_sent <= 2
        await _at_most_one_sample_per_metric_per_second(site)
    finally:
        await site.api.close()


async def test_a_silent_printer_goes_offline_in_time_and_commands_are_refused_plainly(
    printer_broker: Mosquitto, broker_certs: BrokerCerts, simulators: SimulatorFactory,
    printer_gateway: GatewayFactory,
) -> None:
    site = await start(printer_broker, broker_certs, simulators, printer_gateway, offline_after_s=OFFLINE_AFTER_S)
    try:
        await eventually(lambda: _complete(site), timeout_s=10)
        site.sim.silent = True  # still connected to its broker; says nothing, ignores requests
        silenced = time.monotonic()

        async def offline() -> dict[str, Any] | None:
            printer = await site.printer()
            return printer if printer["link"] == "offline" else None

        printer = await eventually(offline, timeout_s=OFFLINE_AFTER_S + 10)
        took_s = time.monotonic() - silenced
        assert took_s <= OFFLINE_AFTER_S + OFFLINE_SLACK_S, f"offline after {took_s:.1f} s"
        assert printer["link_reason"] == "switched off or unreachable" and not printer["commands_available"]
        reply = await site.command({"command": "pause"})
        assert reply.status == 409, reply.body
        message = reply.json()["error"]["message"]
        assert "offline" in message and "no report for over 3 s" in message and "Errno" not in message, message
        status = site.gateway.status()
        assert status.state == "degraded"
        site.sim.silent = False
        await eventually(lambda: _complete(site), timeout_s=20)
    finally:
        await site.api.close()


async def test_slow_and_double_answers_to_pushall_and_a_broker_restart(
    printer_broker: Mosquitto, broker_certs: BrokerCerts, simulators: SimulatorFactory,
    printer_gateway: GatewayFactory,
) -> None:
    sim = await simulators(printer_broker)
    sim.slow_pushall_s = 2.0
    sim.double_pushall = True
    gateway = await printer_gateway([printer_entry(printer_broker, ca_file=str(broker_certs.ca_file))])
    site = Site(gateway, sim)
    try:
        state = await eventually(lambda: _complete(site), timeout_s=15)
        await asyncio.sleep(3.0)
        assert sim.requests.per_session("pushall") == {1: 1}, "a slow answer is waited for, not asked again"
        assert (await site.printer())["full_reports"] >= 2 and state["online"]
        sim.behave()
        await printer_broker.restart_async(down_s=1.0)
        await eventually(lambda: _complete(site, connects=2), timeout_s=20)
        assert max(sim.requests.per_session("pushall").values()) == 1
    finally:
        await site.api.close()


async def _complete(site: Site, connects: int = 1) -> dict[str, Any] | None:
    printer = await site.printer()
    complete = printer["online"] and printer["connects"] >= connects and all(
        printer[field] is not None for field in READ_FIELDS)
    return printer if complete else None


async def _at_most_one_sample_per_metric_per_second(site: Site) -> None:
    telemetry = site.gateway.telemetry
    assert telemetry is not None
    await asyncio.sleep(1.5)  # the store's writer commits in batches
    reply = await site.api.request("GET", "/api/v1/telemetry?limit=10000", token=await site.token("sync"))
    assert reply.status == 200, reply.body
    by_metric: dict[str, list[float]] = defaultdict(list)
    for item in reply.json()["items"]:
        if item.get("source") == f"printer:{PRINTER_SERIAL}":
            by_metric[item["metric"]].append(item["ts"])
    assert by_metric, "printer samples reached the store"
    for metric, stamps in by_metric.items():
        stamps.sort()
        gaps = [b - a for a, b in zip(stamps, stamps[1:])]
        assert all(gap >= SAMPLE_INTERVAL_S * 0.95 for gap in gaps), (metric, min(gaps))
