"""State machine of the simulated controller board. Pure: the caller passes ``now`` (monotonic s).

It owns outputs, fault latching, the heartbeat, sensor sampling and telemetry; request parsing
is in :mod:`firmware_bridge.simulator.requests`. The plant keeps running across a reset (physics
does not reboot), the controller state does not; neither does the board's crystal
(:mod:`firmware_bridge.simulator.board_clock`), which times ``up``, telemetry and the heartbeat.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from firmware_bridge.constants import (
    HEARTBEAT_DEFAULT_MS,
    OUTPUT_MAX_PERMILLE,
    SENSOR_FAULT_SAMPLES,
    SENSOR_SAMPLE_PERIOD_MS,
    SIM_BOARD_ID,
    SIM_DEFAULT_TMAX_C,
    SIM_DEFAULT_ZONES,
    SIM_FIRMWARE_VERSION,
    SIM_UPTIME_WRAP_MS,
    TEL_COUNTER_MODULO,
)
from firmware_bridge.errors import FrameEncodeError
from firmware_bridge.frame import Frame, encode_frame
from firmware_bridge.simulator.board_clock import BoardClock, TelemetryClock
from firmware_bridge.simulator.plant import ExtruderPlant
from firmware_bridge.telemetry import Fault, SensorFailure, Temperature, format_temperature
from firmware_bridge.values import format_value


@dataclass(frozen=True, slots=True)
class ControllerConfig:
    """What a board is built with."""

    zones: int = SIM_DEFAULT_ZONES
    tmax_c: float = SIM_DEFAULT_TMAX_C
    """Hard temperature limit: any zone above it latches ``overtemp``."""
    hb_ms: int = HEARTBEAT_DEFAULT_MS
    """Heartbeat timeout."""
    fw: str = SIM_FIRMWARE_VERSION
    board_id: str = SIM_BOARD_ID
    speed: float = 1.0
    """Plant seconds per real second (protocol timings always run in real time)."""


@dataclass(slots=True)
class ControllerCounters:
    """What the board counts (visible through the simulator's control channel)."""

    frames_rx: int = 0
    hellos: int = 0
    replies_ok: int = 0
    replies_err: dict[str, int] = field(default_factory=dict)
    telemetry: int = 0
    boots: int = 0


class Controller:
    """The board's firmware logic."""

    def __init__(
        self, config: ControllerConfig, plant: ExtruderPlant, now: float, tel_rng: random.Random | None = None
    ) -> None:
        self.config = config
        """What the board is built with (``swap`` replaces it with another board's)."""
        self.plant = plant
        self.counters = ControllerCounters()
        self._last_tick = now
        self.clock = BoardClock(now)
        """The board's crystal (drift survives a reset)."""
        self.tel_clock = TelemetryClock(self.clock, tel_rng or random.Random(0))
        """Telemetry schedule on that crystal, with jitter."""
        self._reset(now)

    # --- lifecycle -------------------------------------------------------------------------
    def boot(self, now: float) -> list[Frame]:
        """Reset: outputs 0, faults and telemetry cleared, heartbeat disarmed. Returns ``! BOOT``."""
        self._reset(now)
        self.counters.boots += 1
        return [Frame(None, "BOOT", {"fw": self.config.fw})]

    def _reset(self, now: float) -> None:
        """The power-on state (before any ``! BOOT`` is announced)."""
        zones = self.config.zones
        self.boot_time = self.clock.board_time(now)
        """Board time of the last boot (s)."""
        self.commanded: list[int] = [0] * zones
        """Outputs the host asked for (per mille)."""
        self.motor_rpm = 0.0
        self.faults: dict[Fault, int | None] = {}
        """Latched faults (first latched first) with their zone."""
        self.latched_at: dict[Fault, float] = {}
        """When each latched fault was latched."""
        self.tel_ms = 0
        self.tel_n = 0
        self.tel_clock.start(0, now)
        self.last_rx: float | None = None
        """When the last valid host frame arrived (``None``: heartbeat not armed since boot)."""
        self._last_rx_board = 0.0
        """The same on the board's clock (s)."""
        self.readings: list[Temperature] = [self.plant.read_sensor(i) for i in range(zones)]
        self._bad_samples = [0] * zones
        self._next_sample = now
        self._apply()

    def uptime_ms(self, now: float) -> int:
        """Milliseconds since the last boot, on the board's clock."""
        return int((self.clock.board_time(now) - self.boot_time) * 1000) % SIM_UPTIME_WRAP_MS

    # --- state -----------------------------------------------------------------------------
    @property
    def fault(self) -> Fault:
        """The fault ``STATUS``/``TEL`` report: the first latched one, or ``none``."""
        return next(iter(self.faults), Fault.NONE)

    @property
    def applied(self) -> list[int]:
        """Outputs actually applied: the commanded ones, or all 0 while any fault is latched."""
        return [0] * self.config.zones if self.faults else list(self.commanded)

    def _apply(self) -> None:
        applied = self.applied
        for zone, permille in enumerate(applied):
            self.plant.set_output(zone, permille / OUTPUT_MAX_PERMILLE)
        self.plant.rpm_command = 0.0 if self.faults else self.motor_rpm

    def set_outputs(self, outputs: dict[int, int]) -> None:
        """Commanded outputs changed (validated by the request layer)."""
        for zone, permille in outputs.items():
            self.commanded[zone] = permille
        self._apply()

    def set_motor(self, rpm: float) -> None:
        """Commanded screw speed changed (validated by the request layer)."""
        self.motor_rpm = rpm
        self._apply()

    def set_telemetry(self, period_ms: int, now: float) -> None:
        """Telemetry period changed (0 = off); the first frame follows one period later."""
        self.tel_ms = period_ms
        self.tel_clock.start(period_ms, now)

    def latch(self, fault: Fault, zone: int | None, now: float) -> list[Frame]:
        """Latch ``fault``: all heaters and the motor off. Returns the ``! FAULT`` event if new."""
        self.commanded = [0] * self.config.zones
        self.motor_rpm = 0.0
        new = fault not in self.faults
        if new:
            self.faults[fault] = zone
            self.latched_at[fault] = now
        self._apply()
        if not new:
            return []
        return [Frame(None, "FAULT", {"code": fault.value, "zone": "-" if zone is None else str(zone)})]

    def persisting_faults(self) -> list[Fault]:
        """Latched faults whose cause is still present (``CLEAR`` is refused while any is)."""
        persisting = []
        if Fault.OVERTEMP in self.faults and any(
            isinstance(r, float) and r > self.config.tmax_c for r in self.readings
        ):
            persisting.append(Fault.OVERTEMP)
        if Fault.SENSOR in self.faults and any(isinstance(r, SensorFailure) for r in self.readings):
            persisting.append(Fault.SENSOR)
        return persisting

    def clear(self) -> bool:
        """Clear every latched fault unless a cause persists; True if cleared."""
        if self.persisting_faults():
            return False
        self.faults.clear()
        self.latched_at.clear()
        self._bad_samples = [0] * self.config.zones
        self._apply()
        return True

    def frame_received(self, now: float) -> None:
        """A valid frame arrived from the host: feed (and arm) the heartbeat."""
        self.counters.frames_rx += 1
        self.last_rx = now
        self._last_rx_board = self.clock.board_time(now)

    # --- time ------------------------------------------------------------------------------
    def tick(self, now: float) -> list[Frame]:
        """Advance to ``now``: plant, sensor samples and limits, heartbeat, telemetry."""
        out: list[Frame] = []
        self.plant.advance(max(now - self._last_tick, 0.0) * self.config.speed)
        self._last_tick = now
        sample_s = SENSOR_SAMPLE_PERIOD_MS / 1000
        if now >= self._next_sample:
            out += self._sample(now)
            self._next_sample += sample_s
            if self._next_sample <= now:
                self._next_sample = now + sample_s
        hb_s = self.config.hb_ms / 1000
        if (
            self.last_rx is not None
            and self.clock.board_time(now) - self._last_rx_board >= hb_s
            and Fault.HOST_TIMEOUT not in self.faults
        ):
            out += self.latch(Fault.HOST_TIMEOUT, None, now)
        if self.tel_ms > 0 and self.tel_clock.due(now):
            out.append(self.telemetry_frame(now))
            self.tel_clock.generated(now)
        return out

    def _sample(self, now: float) -> list[Frame]:
        out: list[Frame] = []
        self.readings = [self.plant.read_sensor(i) for i in range(self.config.zones)]
        for zone, reading in enumerate(self.readings):
            if isinstance(reading, SensorFailure):
                self._bad_samples[zone] += 1
                if self._bad_samples[zone] >= SENSOR_FAULT_SAMPLES:
                    out += self.latch(Fault.SENSOR, zone, now)
            else:
                self._bad_samples[zone] = 0
                if reading > self.config.tmax_c:
                    out += self.latch(Fault.OVERTEMP, zone, now)
        return out

    def telemetry_frame(self, now: float) -> Frame:
        """The next ``! TEL`` frame (two decimals for temperatures, one if the line would be too long)."""
        n = self.tel_n
        self.tel_n = (self.tel_n + 1) % TEL_COUNTER_MODULO
        self.counters.telemetry += 1
        for decimals in (2, 1):
            fields = {"n": str(n), "up": str(self.uptime_ms(now))}
            for zone, reading in enumerate(self.readings):
                fields[f"t{zone}"] = format_temperature(reading, decimals)
            for zone, permille in enumerate(self.applied):
                fields[f"d{zone}"] = str(permille)
            fields["rpm"] = format_value(self.plant.rpm, decimals)
            fields["bar"] = format_value(self.plant.bar, decimals)
            fields["fault"] = self.fault.value
            frame = Frame(None, "TEL", fields)
            try:
                encode_frame(frame)
            except FrameEncodeError:
                if decimals == 1:
                    raise
                continue
            return frame
        raise AssertionError("unreachable")
