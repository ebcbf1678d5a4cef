"""The gateway-side client without a process: samples to the telemetry sink (decimated), events to the
audit log and the gains store, liveness for the watchdog, refusals while the process is not running."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path
from typing import Any

import pytest

from gateway.audit.model import AuditEvent
from gateway.control.client import ControlUnavailable, ExtruderClient
from gateway.control.gains_store import GainsStore
from gateway.control.io_const import STARTUP_GRACE_S, STATE_STALE_S
from gateway.control.ipc import EventMessage, SetSetpoint
from gateway.control.settings import ExtruderSection
from gateway.control.state import (
    ExtruderState,
    GainsView,
    GpioView,
    LinkView,
    MotorView,
    TimingView,
    ZoneView,
)
from gateway.telemetry.sink import MemorySink


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Audit:
    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    async def append(self, event: AuditEvent) -> None:
        self.events.append(event)


def _state(temp: float | None = 100.0, setpoint: float | None = 120.0, loop_alive: bool = True) -> ExtruderState:
    zone = ZoneView(zone=0, temp_c=temp, temp_age_s=0.1, sensor="ok" if temp is not None else "open", setpoint_c=setpoint,
                    effective_setpoint_c=setpoint, output=0.5, applied_output=0.5, state="heating", fault=None,
                    max_c=280.0, max_setpoint_c=265.0, gains=GainsView(kp=0.1, ki=0.002, kd=0.5))
    timing = TimingView(rate_hz=10, period_ms=100, periods=1, missed_periods=0, overruns=0, jitter_p50_ms=0,
                        jitter_p99_ms=0, jitter_max_ms=0, work_p99_ms=0, work_max_ms=0)
    return ExtruderState(
        ts=1.7e9, loop_alive=loop_alive,
        link=LinkView(state="up", port="/dev/x", lost_reason="", telemetry_ms=100, counters={}),
        controller=None, zones=[zone], motor=MotorView(rpm=0.0, commanded_rpm=0.0, bar=0.0), faults=[],
        timing=timing, gpio=GpioView(pin_factory="mock", estop_pressed=False, interlock_on=True, light="amber"),
    )


def _client(tmp_path: Path, **settings: Any) -> tuple[ExtruderClient, MemorySink, Audit, Clock]:
    sink, audit, clock = MemorySink(), Audit(), Clock()
    section = ExtruderSection.model_validate({"enabled": True, "telemetry_period_s": 1.0, **settings})
    client = ExtruderClient(section, state_dir=tmp_path, audit=audit, sink=sink, monotonic=clock)
    return client, sink, audit, clock


def test_samples_are_decimated_to_the_telemetry_period(tmp_path: Path) -> None:
    client, sink, _, clock = _client(tmp_path)
    for _ in range(25):  # 2.5 s of states at 10 Hz
        client._on_state(_state())
        clock.now += 0.1
    assert len(sink.of("extruder", "zone0.temp_c")) == 3  # t = 0, 1, 2 s
    assert {s.metric for s in sink.samples} == {"zone0.temp_c", "zone0.setpoint_c", "zone0.output", "motor.rpm",
                                                "melt.bar"}
    clock.now += 1.0
    client._on_state(_state(temp=None, setpoint=None))
    assert len(sink.of("extruder", "zone0.temp_c")) == 3, "no temperature sample for a failed sensor"
    assert len(sink.of("extruder", "zone0.setpoint_c")) == 3, "no setpoint sample for a zone that is off"
    assert len(sink.of("extruder", "zone0.output")) == 4


def test_never_more_often_than_the_loop_period(tmp_path: Path) -> None:
    client, sink, _, clock = _client(tmp_path, telemetry_period_s=0.01, loop_rate_hz=5)
    for _ in range(10):  # 1 s of states arriving every 0.1 s
        client._on_state(_state())
        clock.now += 0.1
    assert len(sink.of("extruder", "zone0.temp_c")) == 5


async def test_events_are_audited_and_autotune_gains_stored(tmp_path: Path) -> None:
    client, _, audit, _ = _client(tmp_path)
    client._on_event(EventMessage(event="fault", zone=0, details={"code": "sensor_open", "severity": "zone"}))
    client._on_event(EventMessage(event="fault", zone=None, details={"code": "estop", "severity": "severe"}))
    client._on_event(EventMessage(event="autotune_done", zone=1, details={"kp": 0.05, "ki": 0.001, "kd": 0.4}))
    client._on_event(EventMessage(event="autotune_done", zone=2, details={"kp": 0.05}))  # incomplete result
    client._on_event(EventMessage(event="autotune_aborted", zone=0, details={"reason": "overshoot"}))
    await asyncio.sleep(0.05)
    seen = [(e.action, e.outcome, e.target, e.actor) for e in audit.events]
    assert seen == [
        ("extruder.fault", "latched", "zone0", "system:extruder"),
        ("extruder.fault", "latched", "extruder", "system:extruder"),
        ("extruder.autotune", "done", "zone1", "system:extruder"),
        ("extruder.autotune", "done, not stored", "zone2", "system:extruder"),
        ("extruder.autotune", "aborted", "zone0", "system:extruder"),
    ]
    assert client.gains.load() == {1: GainsView(kp=0.05, ki=0.001, kd=0.4)}


def test_gains_store_keeps_other_zones_is_private_and_ignores_a_corrupt_file(tmp_path: Path) -> None:
    store = GainsStore(tmp_path / "gains.json")
    assert store.load() == {}
    store.save(0, GainsView(kp=1, ki=2, kd=3))
    store.save(2, GainsView(kp=4, ki=5, kd=6))
    assert set(store.load()) == {0, 2}
    assert stat.S_IMODE((tmp_path / "gains.json").stat().st_mode) == 0o600
    (tmp_path / "gains.json").write_text('{"0": {"kp": "lots"}}')
    assert store.load() == {}, "a corrupt file is reported and ignored: the config's gains apply"


def test_liveness_for_the_watchdog(tmp_path: Path) -> None:
    client, _, _, clock = _client(tmp_path)
    assert client.liveness().alive, "start-up grace before the first state"
    clock.now += STARTUP_GRACE_S + 1
    assert not client.liveness().alive
    client._on_state(_state())
    assert client.liveness().alive
    clock.now += STATE_STALE_S + 0.5
    assert "silent" in client.liveness().reason
    client._on_state(_state(loop_alive=False))
    assert not client.liveness().alive


async def test_commands_refused_while_the_process_is_not_running(tmp_path: Path) -> None:
    client, _, _, _ = _client(tmp_path)
    with pytest.raises(ControlUnavailable):
        await client.request(SetSetpoint, zone=0, setpoint_c=100.0)
    assert client.status_detail()["running"] is False
