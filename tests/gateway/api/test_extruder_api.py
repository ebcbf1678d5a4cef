"""The extruder routes over loopback HTTP: roles, bad input, the cold-extrusion interlock, telemetry,
status, and a control process that is down (503, watchdog pings withheld, restarted)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Any

import pytest

from tests.support.extruder import ExtruderSite, SiteFactory

ZONE = "/api/v1/extruder/zones/0"


@pytest.fixture
async def site(extruder_site: SiteFactory) -> ExtruderSite:
    # many deliberate 401/403s below: keep the failed-auth back-off out of the way
    return await extruder_site(speed=20.0, sections={"auth": {"backoff": {"limit": 100}}})


ROLE_TABLE: list[tuple[str, str, Any, set[str]]] = [
    ("GET", "/api/v1/extruder", None, {"viewer", "technician", "admin"}),
    ("PUT", ZONE, {"setpoint_c": None}, {"technician", "admin"}),
    ("PUT", "/api/v1/extruder/motor", {"rpm": 0.0}, {"technician", "admin"}),
    ("POST", "/api/v1/extruder/reset", None, {"technician", "admin"}),
    ("POST", "/api/v1/extruder/estop", None, {"viewer", "technician", "admin"}),
    ("POST", ZONE + "/autotune", {"target_c": 0.0}, {"admin"}),  # 422 for admin: past the permission check
]


async def test_roles(site: ExtruderSite) -> None:
    for method, path, body, allowed in ROLE_TABLE:
        for role in ("viewer", "technician", "admin", "sync"):
            reply = await site.call(method, path, role, body)
            if role in allowed:
                assert reply.status not in (401, 403), (method, path, role, reply.body)
            else:
                assert reply.status == 403, (method, path, role, reply.status)
        anonymous = await site.api.request(method, path, json=body)
        assert anonymous.status == 401
    refused = {(a, t) for a, o, t in await site.audit_actions() if o == "refused"}
    assert {"extruder.zone.set", "extruder.motor.set", "extruder.reset", "extruder.estop",
            "extruder.zone.autotune"} <= {a for a, _ in refused}, "refusals are audited"


async def test_bad_input_gets_clear_errors_and_changes_nothing(site: ExtruderSite) -> None:
    cases: list[tuple[str, str, Any, int, str]] = [
        ("PUT", ZONE, {}, 422, "validation_error"),
        ("PUT", ZONE, {"setpoint_c": "200"}, 422, "validation_error"),
        ("PUT", ZONE, {"setpoint_c": 200, "extra": 1}, 422, "validation_error"),
        ("PUT", ZONE, {"setpoint_c": 270.0}, 422, "validation_error"),  # above max_setpoint_c (280 - 15)
        ("PUT", ZONE, {"setpoint_c": -5.0}, 422, "validation_error"),
        ("PUT", "/api/v1/extruder/zones/x", {"setpoint_c": 100}, 422, "validation_error"),
        ("PUT", "/api/v1/extruder/zones/5", {"setpoint_c": 100}, 404, "not_found"),
        ("PUT", "/api/v1/extruder/motor", {"rpm": 250.0}, 422, "validation_error"),
        ("PUT", "/api/v1/extruder/motor", {"rpm": -1}, 422, "validation_error"),
        ("PUT", "/api/v1/extruder/motor", {"rpm": 10.0}, 409, "interlock"),  # zones cold
        ("POST", ZONE + "/autotune", {"target_c": 400.0}, 422, "validation_error"),
        ("POST", "/api/v1/extruder/zones/3/autotune", {"target_c": 100.0}, 404, "not_found"),
    ]
    for method, path, body, status, code in cases:
        reply = await site.call(method, path, "admin", body)
        assert reply.status == status, (path, body, reply.body)
        assert reply.json()["error"]["code"] == code
        assert "Traceback" not in reply.body.decode()
    raw = await site.api.request("PUT", ZONE, token=site.tokens["admin"], data=b"{not json",
                                 headers={"Content-Type": "application/json"})
    assert raw.status == 400
    nan = await site.api.request("PUT", ZONE, token=site.tokens["admin"], data=b'{"setpoint_c": NaN}',
                                 headers={"Content-Type": "application/json"})
    assert nan.status in (400, 422)
    state = await site.state()
    assert state["zones"][0]["setpoint_c"] is None and state["motor"]["commanded_rpm"] == 0.0
    assert site.sim.snapshot()["commanded"] == [0] and site.sim.snapshot()["motor_rpm"] == 0.0
    audit = await site.audit_actions()
    assert ("extruder.zone.set", "failed", "zone0") in audit
    assert ("extruder.motor.set", "failed", "motor") in audit


async def test_setpoint_refused_while_faulted_and_motor_interlock(site: ExtruderSite) -> None:
    assert (await site.call("PUT", ZONE, "technician", {"setpoint_c": 60.0})).status == 200
    await site.wait_state(lambda s: s["zones"][0]["state"] == "holding"
                          and abs(s["zones"][0]["temp_c"] - 60.0) < 3.0, 20.0, "zone 0 holding near 60 degC")
    motor = await site.call("PUT", "/api/v1/extruder/motor", "technician", {"rpm": 20.0})
    assert motor.status == 200, motor.body
    await site.wait_sim(lambda s: s["motor_rpm"] == 20.0, 2.0, "motor at 20 rpm")
    state = await site.wait_state(lambda s: s["motor"]["rpm"] > 0, 3.0, "measured screw speed")
    assert state["motor"]["commanded_rpm"] == 20.0

    off = await site.call("PUT", ZONE, "technician", {"setpoint_c": None})  # the zone goes cold: motor stops
    assert off.status == 200
    await site.wait_sim(lambda s: s["motor_rpm"] == 0.0 and s["commanded"] == [0], 2.0, "motor and heater off")

    assert (await site.call("POST", "/api/v1/extruder/estop", "viewer")).status == 200
    refused = await site.call("PUT", ZONE, "technician", {"setpoint_c": 60.0})
    assert refused.status == 409 and refused.json()["error"]["code"] == "faulted"
    refused = await site.call("PUT", "/api/v1/extruder/motor", "technician", {"rpm": 5.0})
    assert refused.status == 409
    assert (await site.call("PUT", ZONE, "technician", {"setpoint_c": None})).status == 200, "off is always allowed"


async def test_samples_reach_the_telemetry_store_and_status_shows_the_loop(site: ExtruderSite) -> None:
    assert (await site.call("PUT", ZONE, "technician", {"setpoint_c": 80.0})).status == 200
    metrics: set[str] = set()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not {"zone0.temp_c", "zone0.setpoint_c", "zone0.output",
                                               "motor.rpm", "melt.bar"} <= metrics:
        reply = await site.call("GET", "/api/v1/telemetry?limit=500", "sync")
        assert reply.status == 200, reply.body
        metrics = {i["metric"] for i in reply.json()["items"] if i.get("source") == "extruder"}
        await asyncio.sleep(0.2)
    assert {"zone0.temp_c", "zone0.setpoint_c", "zone0.output", "motor.rpm", "melt.bar"} <= metrics
    status = (await site.call("GET", "/api/v1/status", "viewer")).json()
    part = next(p for p in status["parts"] if p["name"] == "extruder")
    assert part["state"] == "running" and part["detail"]["running"] is True
    assert part["detail"]["link"] == "up" and part["detail"]["timing"]["periods"] > 0
    openapi = await site.call("GET", "/api/v1/openapi.json", "viewer")
    assert openapi.status == 200
    paths = openapi.json()["paths"]
    assert {"/api/v1/extruder", "/api/v1/extruder/zones/{zone}", "/api/v1/extruder/motor", "/api/v1/extruder/estop",
            "/api/v1/extruder/reset", "/api/v1/extruder/zones/{zone}/autotune"} <= set(paths)
    timing = (await site.state())["timing"]
    assert timing["rate_hz"] == 10.0 and timing["missed_periods"] >= 0
    assert {"jitter_p50_ms", "jitter_p99_ms", "jitter_max_ms"} <= set(timing)


async def test_control_process_down_gives_503_withholds_watchdog_and_comes_back(site: ExtruderSite) -> None:
    assert (await site.call("PUT", ZONE, "technician", {"setpoint_c": 150.0})).status == 200
    await site.wait_sim(lambda s: s["applied"][0] > 0, 3.0, "heater on")
    pid = site.client.pid
    assert pid is not None and site.gateway.watchdog.evaluate().alive
    real_latest_at = site.client.latest_at
    site.client.latest_at = time.monotonic() - 10  # as if the loop had been silent for 10 s
    stale = site.gateway.watchdog.evaluate()
    assert not stale.alive and "silent" in stale.reason
    site.client.latest_at = real_latest_at
    os.kill(pid, signal.SIGKILL)
    took = await site.wait_sim(lambda s: s["applied"][0] == 0, 3.0, "heartbeat failsafe")
    assert took <= 1.0 + 0.5
    deadline = time.monotonic() + 5
    reply = None
    while time.monotonic() < deadline:
        reply = await site.call("GET", "/api/v1/extruder", "viewer")
        if reply.status == 503:
            break
        await asyncio.sleep(0.02)
    assert reply is not None and reply.status == 503, reply.body if reply else None
    assert "not running" in reply.json()["error"]["message"]
    assert not site.gateway.watchdog.evaluate().alive, "no WATCHDOG=1 while the control loop is down"
    # the supervisor restarts the process; it starts with every zone off. If the controller's heartbeat
    # expired first, its host_timeout is latched (and shown) until a reset.
    state = await site.wait_state(lambda s: s["link"]["state"] == "up" and s["zones"][0]["temp_c"] is not None,
                                  20.0, "the process back")
    assert site.client.pid != pid and site.client.spawns == 2
    assert state["zones"][0]["setpoint_c"] is None and site.sim.snapshot()["applied"] == [0]
    if state["controller"]["fault"] != "none" or state["faults"]:
        await site.wait_state(lambda s: "controller_fault" in {f["code"] for f in s["faults"]}, 3.0, "latched")
        reset = await site.call("POST", "/api/v1/extruder/reset", "technician")
        assert reset.status == 200, reset.body
    assert site.gateway.watchdog.evaluate().alive
