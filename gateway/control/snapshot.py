"""The :class:`ExtruderState` of a :class:`ControlLoop` at one instant (what each period publishes)."""

from __future__ import annotations

import math

from firmware_bridge.messages import LinkState
from firmware_bridge.telemetry import SensorFailure
from gateway.control.loop import PERMILLE, ControlLoop
from gateway.control.safety import LatchedFault, Reading
from gateway.control.state import (
    AutotuneView,
    ControllerView,
    ExtruderState,
    FaultView,
    GainsView,
    LinkView,
    MotorView,
    TimingView,
    ZoneView,
)

_DECIMALS = 3


def _fault_view(fault: LatchedFault, now: float) -> FaultView:
    return FaultView(code=fault.code.value, zone=fault.zone, severity=fault.severity.value,  # type: ignore[arg-type]
                     detail=fault.detail, age_s=round(max(now - fault.at_s, 0.0), 3))


def _sensor(reading: Reading, current: bool) -> tuple[float | None, str]:
    """(temperature, sensor condition) to show; ``current``: the reading is fresh on a link that is up."""
    if reading is None:
        return None, "none"
    if not current:
        return None, "unknown"
    if isinstance(reading, SensorFailure):
        return None, reading.value
    if not math.isfinite(reading):
        return None, "invalid"
    return round(reading, 2), "ok"


def build_state(loop: ControlLoop, now: float, wall: float) -> ExtruderState:
    link = loop.link
    tel = link.telemetry if link.state is LinkState.UP else None
    verdict = loop.verdict
    zones = []
    stale_after_s = loop.settings.stale_after_s
    for z in range(loop.zones):
        sample_at = loop.sample_at[z]
        age = None if sample_at is None else round(max(now - sample_at, 0.0), 3)
        current = tel is not None and age is not None and age <= stale_after_s
        temp, sensor = _sensor(loop.readings[z], current)
        fault = verdict.zone_fault(z)
        gains = loop.pids[z].settings.gains
        tune = loop.autotunes[z] or loop.autotunes_finished[z]
        tune_view = None
        if tune is not None:
            done, needed = tune.progress
            tune_view = AutotuneView(status=tune.status.value, target_c=tune.settings.target_c,  # type: ignore[arg-type]
                                     cycles_done=done, cycles_needed=needed, abort_reason=tune.abort_reason)
        zones.append(ZoneView(
            zone=z, temp_c=temp, temp_age_s=age, sensor=sensor,  # type: ignore[arg-type]
            setpoint_c=loop.setpoints[z], effective_setpoint_c=loop.pids[z].effective_setpoint_c,
            output=round(loop.outputs[z], _DECIMALS),
            applied_output=None if tel is None else tel.outputs_permille[z] / PERMILLE,
            state=verdict.zone_states[z].value,  # type: ignore[arg-type]
            fault=None if fault is None else _fault_view(fault, now),
            max_c=loop.settings.zones[z].max_c, max_setpoint_c=loop.settings.zones[z].max_setpoint_c,
            gains=GainsView(kp=gains.kp, ki=gains.ki, kd=gains.kd),
            autotune=tune_view,
        ))
    hello = link.hello
    controller = None
    if hello is not None:
        controller = ControllerView(fw=hello.fw, board_id=hello.board_id, zones=hello.zones, tmax_c=hello.tmax_c,
                                    hb_ms=hello.hb_ms, fault=loop.controller_fault)
    t = loop.timing
    return ExtruderState(
        ts=wall,
        loop_alive=loop.alive,
        link=LinkView(state=link.state.value, port=link.port_path, lost_reason=link.lost_reason,
                      telemetry_ms=link.telemetry_period_ms, counters=link.counters.as_dict()),
        controller=controller,
        zones=zones,
        motor=MotorView(rpm=0.0 if tel is None else tel.rpm, commanded_rpm=loop.motor_rpm,
                        bar=0.0 if tel is None else tel.bar),
        faults=[_fault_view(f, now) for f in verdict.faults],
        timing=TimingView(
            rate_hz=loop.settings.loop_rate_hz, period_ms=round(loop.settings.period_s * 1000, 3),
            periods=t.periods, missed_periods=t.missed_periods, overruns=t.overruns,
            jitter_p50_ms=round(t.jitter_p50_ms, 4), jitter_p99_ms=round(t.jitter_p99_ms, 4),
            jitter_max_ms=round(t.jitter_max_ms, 4), work_p99_ms=round(t.work_p99_ms, 4),
            work_max_ms=round(t.work_max_ms, 4),
        ),
        gpio=loop.gpio.view(),
    )
