"""What the control process reports each period, as pydantic models.

The same models travel over the IPC socket (validated on both sides) and are served by
``GET /api/v1/extruder``, so what the API shows is exactly what the loop published.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _View(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


ZoneStateName = Literal["off", "heating", "holding", "fault"]
LightColour = Literal["green", "amber", "red", "off"]


class FaultView(_View):
    code: str = Field(description="sensor_open, sensor_short, sensor_invalid, stale, overtemp, runaway, "
                                  "heating_failed, link_lost, controller_fault, controller_reset or estop.")
    zone: int | None = Field(description="Zone the fault belongs to; null for a fault of the whole extruder.")
    severity: Literal["zone", "severe"] = Field(description="zone: that heater off; severe: every heater and the motor off.")
    detail: str = Field(description="What was seen, for a person.")
    age_s: float = Field(description="Seconds since the fault latched.")


class GainsView(_View):
    kp: float
    ki: float
    kd: float


class AutotuneView(_View):
    status: Literal["running", "done", "aborted"]
    target_c: float
    cycles_done: int
    cycles_needed: int
    abort_reason: str | None = None


class ZoneView(_View):
    zone: int
    temp_c: float | None = Field(
        description="Current temperature, degC; null when the sensor failed, none arrived yet, or the link is not "
        "up or the reading is stale (then the temperature is unknown: see temp_age_s)."
    )
    temp_age_s: float | None = Field(
        description="Seconds since the controller's last reading of this zone arrived; null when none ever did."
    )
    sensor: Literal["ok", "open", "short", "invalid", "none", "unknown"] = Field(
        description="Sensor condition of the last reading; 'unknown' while the link is not up or the reading is "
        "stale (a frozen value is never shown as current)."
    )
    setpoint_c: float | None = Field(description="Target set by the user; null = off.")
    effective_setpoint_c: float | None = Field(description="Setpoint after the ramp limit.")
    output: float = Field(description="Heater output the loop commands, 0..1.")
    applied_output: float | None = Field(description="Output the controller reports applying, 0..1.")
    state: ZoneStateName
    fault: FaultView | None
    max_c: float = Field(description="The zone's maximum: a reading above it latches overtemp, degC.")
    max_setpoint_c: float = Field(description="Highest setpoint accepted (max_c less a margin), degC.")
    gains: GainsView
    autotune: AutotuneView | None = Field(None, description="The running autotune, else the last one's outcome.")


class ControllerView(_View):
    fw: str
    board_id: str
    zones: int
    tmax_c: float
    hb_ms: int
    fault: str = Field(description="Fault latched on the controller board itself ('none' when clear).")


class LinkView(_View):
    state: str = Field(description="disconnected, handshaking, up or lost.")
    port: str
    lost_reason: str
    telemetry_ms: int
    counters: dict[str, int]


class MotorView(_View):
    rpm: float = Field(description="Measured screw speed.")
    commanded_rpm: float
    bar: float = Field(description="Melt pressure.")


class TimingView(_View):
    rate_hz: float
    period_ms: float
    periods: int
    missed_periods: int
    overruns: int
    jitter_p50_ms: float
    jitter_p99_ms: float
    jitter_max_ms: float
    work_p99_ms: float
    work_max_ms: float


class GpioView(_View):
    pin_factory: str
    estop_pressed: bool
    interlock_on: bool
    light: LightColour


class ExtruderState(_View):
    """One period's picture of the extruder."""

    ts: float = Field(description="Wall-clock time of the period, s since the epoch.")
    loop_alive: bool = Field(description="The fixed-rate loop is running.")
    link: LinkView
    controller: ControllerView | None = Field(description="From the controller's HELLO; null before the first handshake.")
    zones: list[ZoneView]
    motor: MotorView
    faults: list[FaultView] = Field(description="Every latched fault, oldest first.")
    timing: TimingView
    gpio: GpioView
