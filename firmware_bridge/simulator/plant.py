"""Thermal and mechanical model of an extruder barrel. Pure: time advances only through ``advance``.

Each heater zone is a first-order-plus-dead-time plant::

    C dT/dt = P_heater(t - dead_time) - k (T - T_ambient)

integrated exactly over fixed steps, seen through a first-order sensor lag plus Gaussian noise.
With the defaults (800 W, 750 J/K, 1.5 W/K) full power settles near 560 degC with a 500 s time
constant, so 250 degC is reached after about 4.6 minutes, as on a real barrel zone.
"""

from __future__ import annotations

import enum
import math
import random
from collections import deque
from dataclasses import dataclass, field

from firmware_bridge.constants import PLANT_STEP_S
from firmware_bridge.telemetry import SensorFailure, Temperature


@dataclass(frozen=True, slots=True)
class ZoneParams:
    """Physical parameters of one heater zone."""

    heater_w: float = 800.0
    """Heater power at full output."""
    mass_j_per_k: float = 750.0
    """Thermal mass (heat capacity) of the zone."""
    loss_w_per_k: float = 1.5
    """Heat lost to ambient per kelvin above ambient."""
    dead_time_s: float = 4.0
    """Transport delay from heater to sensor."""
    sensor_lag_s: float = 2.0
    """Time constant of the sensor (thermocouple in its well)."""
    noise_c: float = 0.05
    """Standard deviation of the sensor noise."""
    ambient_c: float = 25.0


@dataclass(frozen=True, slots=True)
class MotorParams:
    """Screw motor and melt pressure model."""

    time_constant_s: float = 0.5
    """First-order response of the measured speed to the commanded one."""
    bar_per_rpm: float = 1.5
    """Melt pressure per rpm at the reference melt temperature."""
    reference_melt_c: float = 220.0
    viscosity_scale_c: float = 40.0
    """Pressure grows by e for every this many degrees below the reference."""
    max_bar: float = 999.0


class HeaterCondition(enum.StrEnum):
    """Injected heater failure."""

    OK = "ok"
    DEAD = "dead"
    """Open heater element: no power whatever the output."""
    STUCK = "stuck"
    """Welded relay: full power whatever the output (thermal runaway)."""


class SensorCondition(enum.StrEnum):
    """Injected sensor failure."""

    OK = "ok"
    OPEN = "open"
    SHORT = "short"


@dataclass(slots=True)
class _Zone:
    params: ZoneParams
    temp_c: float
    sensed_c: float
    delay: deque[float]
    heater: HeaterCondition = HeaterCondition.OK
    sensor: SensorCondition = SensorCondition.OK
    output: float = 0.0
    """Output fraction 0..1 the controller applies."""


@dataclass(slots=True)
class ExtruderPlant:
    """N heater zones along a barrel plus the screw motor."""

    zones: int
    rng: random.Random
    zone_params: ZoneParams = field(default_factory=ZoneParams)
    motor_params: MotorParams = field(default_factory=MotorParams)
    step_s: float = PLANT_STEP_S
    rpm: float = 0.0
    """Measured screw speed."""
    rpm_command: float = 0.0
    _zones: list[_Zone] = field(init=False)
    _pending_s: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        p = self.zone_params
        delay_steps = max(1, round(p.dead_time_s / self.step_s))
        self._zones = [
            _Zone(p, p.ambient_c, p.ambient_c, deque([0.0] * delay_steps, maxlen=delay_steps))
            for _ in range(self.zones)
        ]

    def set_output(self, zone: int, fraction: float) -> None:
        """Apply heater output ``fraction`` (0..1) to ``zone``."""
        self._zones[zone].output = min(max(fraction, 0.0), 1.0)

    def set_heater(self, zone: int, condition: HeaterCondition) -> None:
        """Inject (or repair) a heater failure."""
        self._zones[zone].heater = condition

    def set_sensor(self, zone: int, condition: SensorCondition) -> None:
        """Inject (or repair) a sensor failure."""
        self._zones[zone].sensor = condition

    def heater_power_w(self, zone: int) -> float:
        """Power the heater of ``zone`` delivers now (before the dead time)."""
        z = self._zones[zone]
        if z.heater is HeaterCondition.DEAD:
            return 0.0
        if z.heater is HeaterCondition.STUCK:
            return z.params.heater_w
        return z.params.heater_w * z.output

    def true_temp_c(self, zone: int) -> float:
        """Actual zone temperature (what the sensor lags behind)."""
        return self._zones[zone].temp_c

    def read_sensor(self, zone: int) -> Temperature:
        """One sensor sample: lagged temperature plus noise, or the failure marker."""
        z = self._zones[zone]
        if z.sensor is SensorCondition.OPEN:
            return SensorFailure.OPEN
        if z.sensor is SensorCondition.SHORT:
            return SensorFailure.SHORT
        return z.sensed_c + self.rng.gauss(0.0, z.params.noise_c)

    @property
    def bar(self) -> float:
        """Melt pressure: grows with speed and with melt viscosity (colder melt, last zone)."""
        m = self.motor_params
        if self.rpm <= 0.0:
            return 0.0
        melt_c = self._zones[-1].temp_c
        exponent = min((m.reference_melt_c - melt_c) / m.viscosity_scale_c, 10.0)
        return min(self.rpm * m.bar_per_rpm * math.exp(exponent), m.max_bar)

    def advance(self, dt_s: float) -> None:
        """Advance the model by ``dt_s`` plant seconds (in fixed internal steps)."""
        self._pending_s += dt_s
        steps = int(self._pending_s / self.step_s)
        if steps <= 0:
            return
        self._pending_s -= steps * self.step_s
        h = self.step_s
        for index, z in enumerate(self._zones):
            p = z.params
            decay = math.exp(-h * p.loss_w_per_k / p.mass_j_per_k)
            lag = math.exp(-h / p.sensor_lag_s)
            power = self.heater_power_w(index)
            for _ in range(steps):
                delayed = z.delay[0]
                z.delay.append(power)
                steady = p.ambient_c + delayed / p.loss_w_per_k
                z.temp_c = steady + (z.temp_c - steady) * decay
                z.sensed_c = z.temp_c + (z.sensed_c - z.temp_c) * lag
        motor_decay = math.exp(-steps * h / self.motor_params.time_constant_s)
        self.rpm = self.rpm_command + (self.rpm - self.rpm_command) * motor_decay
        if abs(self.rpm - self.rpm_command) < 1e-3:
            self.rpm = self.rpm_command
