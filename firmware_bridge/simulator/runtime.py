"""The simulator as an asyncio component: controller + plant + faults behind a pty.

Usable in-process (tests create one on their loop) or through ``python -m firmware_bridge.simulator``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from firmware_bridge.codec import FrameDecoder
from firmware_bridge.constants import SIM_TICK_MS
from firmware_bridge.errors import FrameError
from firmware_bridge.frame import REQUEST_VERBS, Frame, encode_frame
from firmware_bridge.simulator.controller import Controller, ControllerConfig
from firmware_bridge.simulator.faults import FaultCommand, FaultKind, LinkFaults, parse_fault
from firmware_bridge.simulator.plant import ExtruderPlant, HeaterCondition, SensorCondition, ZoneParams
from firmware_bridge.simulator.pty_shell import PtyPort
from firmware_bridge.simulator.requests import handle_request


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """Everything a simulated board is started with."""

    controller: ControllerConfig = field(default_factory=ControllerConfig)
    zone_params: ZoneParams = field(default_factory=ZoneParams)
    link_path: str | None = None
    """Stable symlink kept pointing at the current pty."""
    seed: int = 1
    """Seed of the noise and of the random link faults."""


class Simulator:
    """A simulated extruder controller board on a pty."""

    def __init__(self, config: SimulatorConfig | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config or SimulatorConfig()
        self._clock = clock
        self.plant = ExtruderPlant(
            self.config.controller.zones, random.Random(self.config.seed), self.config.zone_params
        )
        self.controller = Controller(self.config.controller, self.plant, clock())
        self.link_faults = LinkFaults(random.Random(self.config.seed + 1))
        self.decoder = FrameDecoder(REQUEST_VERBS)
        self.frames_tx = 0
        self._port: PtyPort | None = None
        self._tick_task: asyncio.Task[None] | None = None
        self._replug_timer: asyncio.TimerHandle | None = None
        self.replugged = asyncio.Event()
        """Set each time :meth:`replug` made a new pty (for callers that follow the path)."""

    @property
    def slave_path(self) -> str:
        """The pty the host opens (changes on replug)."""
        assert self._port is not None and self._port.slave_path is not None, "simulator not started"
        return self._port.slave_path

    @property
    def port_path(self) -> str:
        """The link path if configured, else the pty path."""
        return self.config.link_path or self.slave_path

    async def start(self) -> str:
        """Create the pty, announce ``! BOOT`` and start ticking; return the slave path."""
        loop = asyncio.get_running_loop()
        self._port = PtyPort(loop, self._on_data, self.config.link_path)
        path = self._port.plug()
        self._send_all(self.controller.boot(self._clock()))
        self._tick_task = asyncio.create_task(self._ticker(), name="simulator-tick")
        return path

    async def stop(self) -> None:
        """Stop ticking and remove the pty (and link)."""
        self._cancel_replug()
        if self._tick_task is not None:
            self._tick_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._tick_task
            self._tick_task = None
        if self._port is not None:
            self._port.unplug()

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # --- fault injection -------------------------------------------------------------------
    def inject(self, command: str | FaultCommand) -> None:
        """Apply one injection command (see :mod:`firmware_bridge.simulator.faults`)."""
        cmd = parse_fault(command) if isinstance(command, str) else command
        lf = self.link_faults
        if cmd.kind is FaultKind.SENSOR:
            self._check_zone(cmd.zone)
            assert isinstance(cmd.condition, SensorCondition) and cmd.zone is not None
            self.plant.set_sensor(cmd.zone, cmd.condition)
        elif cmd.kind is FaultKind.HEATER:
            self._check_zone(cmd.zone)
            assert isinstance(cmd.condition, HeaterCondition) and cmd.zone is not None
            self.plant.set_heater(cmd.zone, cmd.condition)
        elif cmd.kind is FaultKind.CRC:
            lf.crc_tx_rate = cmd.rate or 0.0
        elif cmd.kind is FaultKind.CRC_RX:
            lf.crc_rx_rate = cmd.rate or 0.0
        elif cmd.kind is FaultKind.DROP:
            lf.drop_rate = cmd.rate or 0.0
        elif cmd.kind is FaultKind.SILENCE:
            lf.silent = bool(cmd.on)
        elif cmd.kind is FaultKind.SLOW:
            lf.slow_reply_ms = cmd.ms or 0
        elif cmd.kind is FaultKind.RESET:
            self._send_all(self.controller.boot(self._clock()))
        elif cmd.kind is FaultKind.UNPLUG:
            self.unplug()
            if cmd.ms is not None:
                self._replug_timer = asyncio.get_running_loop().call_later(cmd.ms / 1000, self.replug)
        elif cmd.kind is FaultKind.REPLUG:
            self.replug()
        elif cmd.kind is FaultKind.CLEAR:
            lf.clear()
            for zone in range(self.plant.zones):
                self.plant.set_sensor(zone, SensorCondition.OK)
                self.plant.set_heater(zone, HeaterCondition.OK)

    def _check_zone(self, zone: int | None) -> None:
        if zone is None or not 0 <= zone < self.plant.zones:
            raise ValueError(f"no zone {zone}")

    def unplug(self) -> None:
        """Close the pty and remove the link (the board keeps running, unheard)."""
        self._cancel_replug()
        if self._port is not None:
            self._port.unplug()

    def replug(self) -> str:
        """Create a new pty, re-point the link; return the new slave path."""
        assert self._port is not None
        self._cancel_replug()
        path = self._port.plug()
        self.replugged.set()
        return path

    def _cancel_replug(self) -> None:
        if self._replug_timer is not None:
            self._replug_timer.cancel()
            self._replug_timer = None

    def snapshot(self) -> dict[str, Any]:
        """The board's state as plain data (for tests and the control channel)."""
        c = self.controller
        now = self._clock()
        return {
            "slave_path": self._port.slave_path if self._port and self._port.plugged else None,
            "applied": c.applied,
            "commanded": list(c.commanded),
            "motor_rpm": c.motor_rpm,
            "faults": [[f.value, z] for f, z in c.faults.items()],
            "fault": c.fault.value,
            "tel_ms": c.tel_ms,
            "up_ms": c.uptime_ms(now),
            "readings": [r if isinstance(r, float) else str(r) for r in c.readings],
            "true_temps": [round(self.plant.true_temp_c(i), 3) for i in range(self.plant.zones)],
            "heater_power_w": [self.plant.heater_power_w(i) for i in range(self.plant.zones)],
            "counters": asdict(c.counters),
            "decoder": {"frames": self.decoder.frames, **{k.value: v for k, v in self.decoder.errors.items()}},
            "link": {
                "frames_tx": self.frames_tx,
                "corrupted_tx": self.link_faults.corrupted_tx,
                "corrupted_rx": self.link_faults.corrupted_rx,
                "dropped_tx": self.link_faults.dropped_tx,
                "silenced_tx": self.link_faults.silenced_tx,
                "buffer_dropped": self._port.tx_dropped if self._port else 0,
            },
        }

    # --- I/O -------------------------------------------------------------------------------
    async def _ticker(self) -> None:
        period = SIM_TICK_MS / 1000
        while True:
            self._send_all(self.controller.tick(self._clock()))
            await asyncio.sleep(period)

    def _on_data(self, data: bytes) -> None:
        now = self._clock()
        for item in self.decoder.feed(data):
            if isinstance(item, FrameError) or self.link_faults.incoming_corrupted():
                continue
            self._send_all(handle_request(self.controller, item, now))

    def _send_all(self, frames: list[Frame]) -> None:
        delay_s = self.link_faults.slow_reply_ms / 1000
        for frame in frames:
            if delay_s > 0 and frame.seq is not None:
                asyncio.get_running_loop().call_later(delay_s, self._send, frame)
            else:
                self._send(frame)

    def _send(self, frame: Frame) -> None:
        line = self.link_faults.outgoing(encode_frame(frame))
        if line is not None and self._port is not None and self._port.write(line):
            self.frames_tx += 1
