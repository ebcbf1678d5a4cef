"""Printer commands over real HTTP: role tiers per command, fixed templates only, clamps, 409, audit, replies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from gateway.auth.roles import PRINTER_COMMAND_PERMISSIONS, role_allows
from gateway.factory import Gateway
from gateway.printers.simulator.broker import Mosquitto
from gateway.printers.simulator.client import PrinterSimulator
from tests.gateway.printers.conftest import GatewayFactory, SimulatorFactory, eventually, printer_entry
from tests.support.gateway import ApiClient, issue
from tests.support.mosquitto import ACCESS_CODE, PRINTER_SERIAL, BrokerCerts

OFFLINE_SERIAL = "01S00C777777777"
COMMANDS = "/api/v1/printers/{}/commands"


@dataclass
class Site:
    gateway: Gateway
    sim: PrinterSimulator
    api: ApiClient
    tokens: dict[str, str]

    async def send(self, role: str, body: Any, serial: str = PRINTER_SERIAL) -> Any:
        return await self.api.request("POST", COMMANDS.format(serial), token=self.tokens[role], json=body)

    async def printer(self, serial: str = PRINTER_SERIAL) -> dict[str, Any]:
        reply = await self.api.request("GET", f"/api/v1/printers/{serial}", token=self.tokens["viewer"])
        return reply.json()

    async def command(self, sequence_id: str) -> dict[str, Any] | None:
        for command in (await self.printer())["commands"]:
            if command["sequence_id"] == sequence_id and command["status"] != "sent":
                return command
        return None


@pytest.fixture
async def site(printer_broker: Mosquitto, broker_certs: BrokerCerts, simulators: SimulatorFactory,
               printer_gateway: GatewayFactory) -> AsyncIterator[Site]:
    sim = await simulators(printer_broker)
    gateway = await printer_gateway([
        printer_entry(printer_broker, ca_file=str(broker_certs.ca_file),
                      limits={"nozzle_max_c": 260, "bed_max_c": 90}),
        # certificate not checked (the broker's names another serial): the refusal is the access code's
        printer_entry(printer_broker, OFFLINE_SERIAL, insecure_skip_verify=True, access_code="bad-code-xyz"),
    ])
    api = ApiClient(gateway.urls[0])
    tokens = {role: await issue(gateway, role) for role in ("viewer", "technician", "admin", "sync")}
    result = Site(gateway, sim, api, tokens)
    await eventually(lambda: _online(result))
    try:
        yield result
    finally:
        await api.close()


async def _online(site: Site) -> bool:
    return bool((await site.printer())["online"])


async def test_role_tiers_per_command(site: Site) -> None:
    bodies = {"pause": {"command": "pause"}, "resume": {"command": "resume"}, "pushall": {"command": "pushall"},
              "light": {"command": "light", "node": "chamber_light", "on": False},
              "set_temperature": {"command": "set_temperature", "heater": "bed", "celsius": 55},
              "stop": {"command": "stop"}}
    assert set(bodies) == set(PRINTER_COMMAND_PERMISSIONS)
    for role in ("viewer", "sync", "technician", "admin"):
        for name, body in bodies.items():
            reply = await site.send(role, body)
            allowed = role_allows(role, PRINTER_COMMAND_PERMISSIONS[name])
            assert reply.status == (202 if allowed else 403), (role, name, reply.body)
            if not allowed:
                assert reply.json()["error"]["code"] == "forbidden"
    # The spec's examples, plainly: a viewer cannot pause, a technician cannot stop.
    assert not role_allows("viewer", PRINTER_COMMAND_PERMISSIONS["pause"])
    assert not role_allows("technician", PRINTER_COMMAND_PERMISSIONS["stop"])


async def test_pause_resume_and_the_printers_reply(site: Site) -> None:
    reply = await site.send("technician", {"command": "pause"})
    assert reply.status == 202
    accepted = reply.json()
    assert accepted["command"] == "pause" and accepted["status"] == "sent" and accepted["sequence_id"]
    answered = await eventually(lambda: site.command(accepted["sequence_id"]))
    assert answered["status"] == "ok" and answered["result"] == "success"
    await eventually(lambda: _state_is(site, "PAUSE"))
    resumed = (await site.send("technician", {"command": "resume"})).json()
    assert (await eventually(lambda: site.command(resumed["sequence_id"])))["status"] == "ok"
    await eventually(lambda: _state_is(site, "RUNNING"))
    # Resuming a running print: the printer answers with a failure and its err_code.
    again = (await site.send("technician", {"command": "resume"})).json()
    failed = await eventually(lambda: site.command(again["sequence_id"]))
    assert failed["status"] == "failed" and failed["err_code"] == 1


async def _state_is(site: Site, gcode_state: str) -> bool:
    return (await site.printer())["gcode_state"] == gcode_state


async def test_nobody_can_send_raw_gcode_or_json(site: Site) -> None:
    for body in ({"command": "gcode_line", "param": "M104 S300\n"},
                 {"command": "set_temperature", "heater": "nozzle", "celsius": 200, "param": "G28\n"},
                 {"command": "set_temperature", "heater": "hotend", "celsius": 200},
                 {"command": "set_temperature", "heater": "nozzle", "celsius": "200"},
                 {"command": "light", "node": "laser", "on": True},
                 {"print": {"command": "stop"}}, {"command": "pause", "sequence_id": "1"}):
        reply = await site.send("admin", body)
        assert reply.status == 422, (body, reply.body)
        assert reply.json()["error"]["code"] == "validation_error"
    reply = await site.api.request("POST", COMMANDS.format(PRINTER_SERIAL), token=site.tokens["admin"],
                                   data=b"M104 S300", headers={"Content-Type": "application/json"})
    assert reply.status == 400
    assert site.sim.model.nozzle_target_c == 220.0


async def test_temperature_is_clamped_to_the_printers_limits(site: Site) -> None:
    reply = await site.send("admin", {"command": "set_temperature", "heater": "nozzle", "celsius": 999})
    assert reply.status == 202
    assert reply.json()["applied"] == {"heater": "nozzle", "requested_c": 999.0, "celsius": 260, "clamped": True,
                                       "rounded": False}
    await eventually(lambda: _target(site, 260.0))
    assert site.sim.model.nozzle_target_c == 260.0
    reply = await site.send("admin", {"command": "set_temperature", "heater": "bed", "celsius": 1e308})
    assert reply.json()["applied"]["celsius"] == 90


async def _target(site: Site, celsius: float) -> bool:
    return (await site.printer())["nozzle_target_c"] == celsius


async def test_offline_and_unknown_printers(site: Site) -> None:
    await eventually(lambda: _link(site, OFFLINE_SERIAL, "auth_failed"))
    reply = await site.send("admin", {"command": "pause"}, serial=OFFLINE_SERIAL)
    assert reply.status == 409 and reply.json()["error"]["code"] == "printer_offline"
    reply = await site.send("admin", {"command": "pause"}, serial="01S00NOSUCH0000")
    assert reply.status == 404
    listed = await site.api.request("GET", "/api/v1/printers", token=site.tokens["viewer"])
    assert [p["serial"] for p in listed.json()["printers"]] == [PRINTER_SERIAL, OFFLINE_SERIAL]
    assert (await site.api.request("GET", "/api/v1/printers", token=site.tokens["sync"])).status == 403


async def _link(site: Site, serial: str, link: str) -> bool:
    return (await site.printer(serial))["link"] == link


async def test_every_command_is_audited_with_its_outcome(site: Site) -> None:
    await site.send("viewer", {"command": "pause"})
    await site.send("technician", {"command": "stop"})
    ok = (await site.send("admin", {"command": "set_temperature", "heater": "bed", "celsius": 500})).json()
    await site.send("admin", {"command": "pause"}, serial=OFFLINE_SERIAL)
    await site.send("admin", {"command": "gcode_line"})
    page = await site.api.request("GET", "/api/v1/audit?limit=20", token=site.tokens["admin"])
    entries = [e for e in page.json()["entries"] if e["action"] == "printers.command"][::-1]
    summary = [(e["actor"], e["outcome"], e["details"]["status"], e["details"].get("command")) for e in entries]
    assert summary == [("test-viewer", "refused", 403, None), ("test-technician", "refused", 403, "stop"),
                       ("test-admin", "ok", 202, "set_temperature"), ("test-admin", "failed", 409, "pause"),
                       ("test-admin", "failed", 422, None)]
    assert entries[2]["target"] == PRINTER_SERIAL and entries[2]["details"]["sequence_id"] == ok["sequence_id"]
    assert entries[2]["details"]["applied"]["celsius"] == 90
    refused = await site.send("technician", {"command": "set_temperature", "heater": "nozzle", "celsius": 215})
    assert refused.status == 403
    page = await site.api.request("GET", "/api/v1/audit?limit=1", token=site.tokens["admin"])
    details = page.json()["entries"][0]["details"]
    assert details["command"] == "set_temperature" and details["requested"] == {"heater": "nozzle", "celsius": 215.0}


async def test_command_verification_failed_is_reported(site: Site) -> None:
    site.sim.model.verification_required = True
    accepted = (await site.send("technician", {"command": "light", "on": False})).json()
    answered = await eventually(lambda: site.command(accepted["sequence_id"]))
    assert answered["status"] == "verification_failed" and answered["err_code"] == 84033543
    assert "verification failed" in answered["reason"]
    assert site.sim.model.chamber_light == "on"


async def test_access_codes_never_appear_in_responses(site: Site) -> None:
    texts = [(await site.api.request("GET", path, token=site.tokens["admin"])).body.decode()
             for path in ("/api/v1/printers", f"/api/v1/printers/{OFFLINE_SERIAL}", "/api/v1/status",
                          "/api/v1/audit")]
    for text in texts:
        assert ACCESS_CODE not in text and "bad-code-xyz" not in text


async def test_live_snapshot_carries_the_printers(site: Site) -> None:
    url = site.gateway.urls[0].replace("http://", "ws://") + "/api/v1/live"
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        await ws.send_json({"type": "auth", "token": site.tokens["technician"]})
        assert (await ws.receive_json(timeout=5))["type"] == "hello"
        snapshot = await ws.receive_json(timeout=5)
    printers = snapshot["printers"]["printers"]
    assert [p["serial"] for p in printers] == [PRINTER_SERIAL, OFFLINE_SERIAL]
    assert printers[0]["online"] and printers[0]["gcode_state"] == "RUNNING"
