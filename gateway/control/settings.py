"""The ``[extruder]`` configuration section: link, zones, loop rate, GPIO and the simulated controller.

The per-zone regulation and safety model (:class:`ZoneControlConfig`) and the autotune model come
from :mod:`gateway.control.config`. The section travels to the control process in its first IPC
message, so both sides validate the same model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from firmware_bridge.constants import (
    LINK_LOST_MS_DEFAULT,
    LINK_LOST_MS_MAX,
    LINK_LOST_MS_MIN,
    LINK_LOST_TEL_PERIODS_DEFAULT,
    LINK_LOST_TEL_PERIODS_MAX,
    LINK_LOST_TEL_PERIODS_MIN,
    TEL_PERIOD_MIN_MS,
)
from firmware_bridge.link_logic import LossLimits
from gateway.control import const, io_const
from gateway.control.config import AutotuneConfig, ZoneControlConfig

MAX_ZONES = 8
"""Serial protocol v1: a controller has 1..8 zones."""
BCM_PIN_MAX = 27
"""Highest BCM GPIO number on the Raspberry Pi header."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class GpioSettings(_Section):
    """Wiring of the e-stop input, the heater-power interlock and the status tower light (BCM numbers)."""

    pin_factory: Literal["native", "mock"] = Field(
        "native",
        description="'native': the Raspberry Pi's GPIO (gpiozero's default factory); 'mock': gpiozero's "
        "MockFactory (tests and the simulated site; then the IPC 'mock_pin' op may drive inputs).",
    )
    estop_pin: int | None = Field(
        io_const.ESTOP_PIN_DEFAULT, ge=0, le=BCM_PIN_MAX,
        description="E-stop input, active low (pulled up; the button pulls it to ground). null = not fitted.",
    )
    estop_bounce_ms: int = Field(
        io_const.ESTOP_BOUNCE_MS_DEFAULT, ge=1, le=200, description="Debounce time of the e-stop input, ms."
    )
    interlock_pin: int | None = Field(
        io_const.INTERLOCK_PIN_DEFAULT, ge=0, le=BCM_PIN_MAX,
        description="Heater-power relay/contactor enable, active high: on only while no fault is latched and "
        "the loop runs. null = not fitted.",
    )
    light_red_pin: int | None = Field(io_const.LIGHT_RED_PIN_DEFAULT, ge=0, le=BCM_PIN_MAX, description="Tower light red (fault).")
    light_amber_pin: int | None = Field(io_const.LIGHT_AMBER_PIN_DEFAULT, ge=0, le=BCM_PIN_MAX, description="Tower light amber (heating).")
    light_green_pin: int | None = Field(io_const.LIGHT_GREEN_PIN_DEFAULT, ge=0, le=BCM_PIN_MAX, description="Tower light green (ok).")

    @model_validator(mode="after")
    def _distinct_pins(self) -> Self:
        pins = [p for p in (self.estop_pin, self.interlock_pin, self.light_red_pin, self.light_amber_pin,
                            self.light_green_pin) if p is not None]
        if len(pins) != len(set(pins)):
            raise ValueError("each GPIO pin may be used once")
        lights = (self.light_red_pin, self.light_amber_pin, self.light_green_pin)
        if any(p is None for p in lights) and any(p is not None for p in lights):
            raise ValueError("the tower light needs all three pins (red, amber, green) or none")
        return self


class ExtruderSection(_Section):
    """The extruder: its controller board on a serial port, the zones it heats, the control loop."""

    enabled: bool = Field(False, description="Run the extruder control process.")
    port: str = Field(
        "/dev/serial/by-id/extruder-controller", min_length=1, max_length=255,
        description="Stable path of the controller's serial port (a /dev/serial/by-id link or a udev symlink). "
        "Ignored when simulator = true.",
    )
    simulator: bool = Field(
        False, description="Start the simulated controller (python -m firmware_bridge.simulator) on a pty and use it."
    )
    simulator_speed: float = Field(
        1.0, ge=0.1, le=100, description="Simulated plant seconds per real second (simulator only)."
    )
    zones: list[ZoneControlConfig] = Field(
        default_factory=lambda: [ZoneControlConfig()], min_length=1, max_length=MAX_ZONES,
        description="The heater zones the controller must have, in order (zone 0 first), each with its gains and limits.",
    )
    loop_rate_hz: float = Field(
        const.LOOP_RATE_HZ_DEFAULT, ge=const.LOOP_RATE_HZ_MIN, le=const.LOOP_RATE_HZ_MAX,
        description="Rate of the fixed-rate control loop, Hz (one OUT frame, the heartbeat, per period).",
    )
    telemetry_period_s: float = Field(
        io_const.TELEMETRY_PERIOD_S_DEFAULT, gt=0, le=3600,
        description="How often zone temperatures, setpoints, outputs, motor speed and pressure go to the "
        "telemetry store, s (never more often than once per loop period).",
    )
    link_lost_ms: int = Field(
        LINK_LOST_MS_DEFAULT, ge=LINK_LOST_MS_MIN, le=LINK_LOST_MS_MAX,
        description="The controller link is lost, and every zone's temperature stale, after this long without "
        "valid telemetry or with requests sent and none answered (or link_lost_periods telemetry periods, "
        "whichever is longer), ms. Until then the loop holds its last outputs. The resulting window may not "
        "exceed the controller's heartbeat timeout (hb): checked at every handshake.",
    )
    link_lost_periods: int = Field(
        LINK_LOST_TEL_PERIODS_DEFAULT, ge=LINK_LOST_TEL_PERIODS_MIN, le=LINK_LOST_TEL_PERIODS_MAX,
        description="The same limit in telemetry periods; the longer of the two applies.",
    )
    realtime_priority: int = Field(
        0, ge=0, le=99,
        description="SCHED_FIFO priority of the control process (needs CAP_SYS_NICE); 0 = normal scheduling.",
    )
    autotune: AutotuneConfig = Field(default_factory=AutotuneConfig)
    gpio: GpioSettings = Field(default_factory=GpioSettings)

    @property
    def period_s(self) -> float:
        return 1.0 / self.loop_rate_hz

    @property
    def link_telemetry_ms(self) -> int:
        """Telemetry period the link asks the controller for: one frame per loop period."""
        ms = round(1000 * self.period_s)
        return min(max(ms, TEL_PERIOD_MIN_MS), io_const.LOOP_TEL_PERIOD_MAX_MS)

    def loss_limits(self) -> LossLimits:
        """When the link counts as lost (handed to the serial link)."""
        return LossLimits(self.link_lost_ms, self.link_lost_periods)

    @property
    def stale_after_s(self) -> float:
        """A zone's temperature is stale after the link's loss window."""
        return self.loss_limits().window_ms(self.link_telemetry_ms) / 1000

    def port_path(self, state_dir: Path) -> str:
        """The serial port the control process opens (the simulator's stable link when simulated)."""
        if self.simulator:
            return str(state_dir / io_const.SIMULATOR_LINK_NAME)
        return self.port
