"""Regulation and autotune through the whole stack, on the simulated plant over a real pty.

The plant runs ``SPEED`` times faster than real time (every thermal time constant and the dead time
shrink by that factor), and the zone's time-based gains and safety periods are scaled by the same
factor (``scaled_zone``), so the loop regulates the same plant in plant seconds: 20 Hz here is one
period per 2 plant seconds. The simulator runs in its own process, so that this test process (which
also runs the gateway) cannot delay its telemetry. The bounds are the issue's: overshoot <= 2 degC, settled within
+-0.5 degC, steady within +-0.3 degC, with the simulator's sensor noise on.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time

from gateway.control.io_const import GAINS_FILE_NAME
from tests.support.extruder import ExtruderSite, SiteFactory

SPEED = 40.0
AUTOTUNE_SPEED = 20.0
"""The relay test measures oscillation half-periods: at half the speed a scheduling hiccup of a loaded
machine distorts them half as much (one such hiccup at 40x once made a run abort as asymmetric)."""
RATE_HZ = 20.0
OVERSHOOT_MAX_C = 2.0
SETTLE_BAND_C = 0.5
STEADY_BAND_C = 0.3
STEADY_WINDOW_PLANT_S = 100.0


async def _record(site: ExtruderSite, until: float) -> list[tuple[float, float]]:
    """(wall s, reading degC) of zone 0 as the controller measures it, until ``until`` (monotonic)."""
    samples = []
    while time.monotonic() < until:
        assert site.sim_process is not None
        reading = (await site.sim_process.snapshot())["readings"][0]
        if isinstance(reading, float):
            samples.append((time.monotonic(), reading))
        await asyncio.sleep(0.03)
    return samples


def _check_bounds(samples: list[tuple[float, float]], setpoint: float) -> dict[str, float]:
    peak = max(r for _, r in samples)
    outside = [t for t, r in samples if abs(r - setpoint) > SETTLE_BAND_C]
    settled_at = outside[-1] if outside else samples[0][0]
    window = [r for t, r in samples if t >= samples[-1][0] - STEADY_WINDOW_PLANT_S / SPEED]
    steady = max(abs(r - setpoint) for r in window)
    figures = {"overshoot_c": peak - setpoint, "steady_dev_c": steady,
               "settled_after_plant_s": (settled_at - samples[0][0]) * SPEED}
    assert peak - setpoint <= OVERSHOOT_MAX_C, figures
    assert settled_at <= samples[-1][0] - STEADY_WINDOW_PLANT_S / SPEED, figures  # settled before the window
    assert steady <= STEADY_BAND_C, figures
    return figures


async def test_heat_up_to_200_within_bounds_without_false_trip(extruder_site: SiteFactory) -> None:
    site = await extruder_site(speed=SPEED, loop_rate_hz=RATE_HZ, sim_process=True)
    put = await site.call("PUT", "/api/v1/extruder/zones/0", "technician", {"setpoint_c": 200.0})
    assert put.status == 200, put.body
    samples = await _record(site, time.monotonic() + 480 / SPEED)  # 480 plant s: heat-up, settling, steady
    figures = _check_bounds(samples, 200.0)
    print(f"regulation to 200 degC: {figures}")
    state = await site.state()
    assert state["faults"] == [], "no false trip during a normal heat-up"
    assert state["zones"][0]["state"] == "holding"
    assert state["timing"]["missed_periods"] == 0
    assert not any(a == "extruder.fault" for a, _, _ in await site.audit_actions())


async def test_autotune_over_api_stores_and_applies_gains(extruder_site: SiteFactory) -> None:
    site = await extruder_site(speed=AUTOTUNE_SPEED, loop_rate_hz=RATE_HZ, sim_process=True)
    before = (await site.state())["zones"][0]["gains"]
    started = await site.call("POST", "/api/v1/extruder/zones/0/autotune", "admin", {"target_c": 100.0})
    assert started.status == 202, started.body
    assert started.json()["zone"] == 0
    busy = await site.call("PUT", "/api/v1/extruder/zones/0", "technician", {"setpoint_c": 50.0})
    assert busy.status == 409 and busy.json()["error"]["code"] == "busy"
    state = await site.wait_state(lambda s: (s["zones"][0]["autotune"] or {}).get("status") in ("done", "aborted"),
                                  120.0, "autotune to finish")
    assert state["zones"][0]["autotune"]["status"] == "done", state["zones"][0]["autotune"]
    gains = state["zones"][0]["gains"]
    assert gains != before
    stored = json.loads((site.gateway.config.gateway.state_dir / GAINS_FILE_NAME).read_text())
    assert stored["0"] == gains, "stored and applied"
    await asyncio.sleep(0.3)
    audit = await site.audit_actions()
    assert ("extruder.autotune", "done", "zone0") in audit, audit
    assert ("extruder.zone.autotune", "ok", "zone0") in audit
    assert state["zones"][0]["setpoint_c"] is None, "the heater is off after tuning"

    pid = site.client.pid  # a restarted control process applies the stored gains from the start
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    restarted = await site.wait_state(lambda s: site.client.spawns == 2, 20.0, "the control process restarted")
    assert restarted["zones"][0]["gains"] == stored["0"]
    # That tuned gains meet the regulation bounds on this plant is shown by the control core's own tests
    # (tests/gateway/control/test_regulation.py); here: tuned over the API, stored, applied, audited.
    print(f"autotuned gains {gains}")
