"""The simulator as an asyncio component: controller + plant + faults behind a pty.

Usable in-process (tests create one on their loop) or through ``python -m firmware_bridge.simulator``.
Every boot of the board goes through :meth:`Simulator.boot`, which also drops the replies the board
had not sent yet (they were in its RAM) and records the boot in the ``boots`` evidence.
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
from firmware_bridge.simulator.evidence import BootLog, BootReason
from firmware_bridge.simulator.faults import FaultCommand, parse_fault
from firmware_bridge.simulator.inject import apply_fault
from firmware_bridge.simulator.line import LinkFaults
from firmware_bridge.simulator.plant import ExtruderPlant, ZoneParams
from firmware_bridge.simulator.pty_shell import PtyPort
from firmware_bridge.simulator.requests import handle_request
from firmware_bridge.simulator.sim_constants import (
    SEED_OFFSET_BURST,
    SEED_OFFSET_DAMAGE,
    SEED_OFFSET_LINK,
    SEED_OFFSET_TEL_CLOCK,
)

MS_PER_S = 1000.0


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
        seed = self.config.seed
        self.started_at = clock()
        """Monotonic time (s) the simulator was created: ``at_ms`` of the evidence counts from it."""
        self.plant = ExtruderPlant(self.config.controller.zones, random.Random(seed), self.config.zone_params)
        self.controller = Controller(
            self.config.controller, self.plant, self.started_at, random.Random(seed + SEED_OFFSET_TEL_CLOCK)
        )
        self.link_faults = LinkFaults(
            random.Random(seed + SEED_OFFSET_LINK),
            random.Random(seed + SEED_OFFSET_BURST),
            random.Random(seed + SEED_OFFSET_DAMAGE),
        )
        self.decoder = FrameDecoder(REQUEST_VERBS)
        self.boot_log = BootLog(self.started_at)
        self.frames_tx = 0
        self.fault_events_injected = 0
        self.fault_events_sent = 0
        self._port: PtyPort | None = None
        self._tick_task: asyncio.Task[None] | None = None
        self._replug_timer: asyncio.TimerHandle | None = None
        self._reboot_timer: asyncio.TimerHandle | None = None
        self._reboot_at: float | None = None
        """When the pending spontaneous reboot happens (monotonic s)."""
        self._delayed: set[asyncio.TimerHandle] = set()
        """Replies waiting for their delay (``slow``, ``hello_delay``); a boot drops them."""
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
        self.boot(BootReason.START)
        self._tick_task = asyncio.create_task(self._ticker(), name="simulator-tick")
        return path

    async def stop(self) -> None:
        """Stop ticking and remove the pty (and link)."""
        self._cancel_replug()
        self.cancel_reboot()
        self._drop_delayed()
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
        apply_fault(self, parse_fault(command) if isinstance(command, str) else command)

    def now(self) -> float:
        """The simulator's monotonic clock (s)."""
        return self._clock()

    def boot(self, reason: BootReason) -> None:
        """The board (re)boots: power-on state, unsent replies gone, ``! BOOT`` sent, boot recorded."""
        self._drop_delayed()
        now = self._clock()
        frames = self.controller.boot(now)
        self.boot_log.boot(reason, now, self.controller.config.board_id)
        self._send_all(frames)

    def schedule_reboot(self, ms: int) -> None:
        """A spontaneous reboot ``ms`` from now (replaces a pending one)."""
        self.cancel_reboot()
        self._reboot_at = self._clock() + ms / MS_PER_S
        self._reboot_timer = asyncio.get_running_loop().call_later(ms / MS_PER_S, self._spontaneous_reboot)

    def cancel_reboot(self) -> None:
        """Forget a pending spontaneous reboot."""
        if self._reboot_timer is not None:
            self._reboot_timer.cancel()
        self._reboot_timer = self._reboot_at = None

    def _spontaneous_reboot(self) -> None:
        self._reboot_timer = self._reboot_at = None
        self.boot(BootReason.REBOOT)

    def send_event(self, frame: Frame) -> None:
        """Send an unsolicited frame (``!``) now."""
        self._send_all([frame])

    def schedule_replug(self, ms: int) -> None:
        """Replug by itself ``ms`` from now."""
        self._cancel_replug()
        self._replug_timer = asyncio.get_running_loop().call_later(ms / MS_PER_S, self.replug)

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
        lf = self.link_faults
        now = self._clock()
        reboot_in_ms = None if self._reboot_at is None else round(max(self._reboot_at - now, 0.0) * MS_PER_S, 3)
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
            "board_id": c.config.board_id,
            "boots": self.boot_log.snapshot(),
            "tel_intervals_ms": {
                **c.tel_clock.stats.summary(),
                "nominal": round(c.tel_clock.nominal_period_ms, 3),
            },
            "line": {
                "burst_corrupted": lf.burst_corrupted,
                "bursts": lf.burst.bursts,
                "burst_damage": dict(lf.burst_damage),
                "replies_lost": lf.replies_lost,
                "fault_events_injected": self.fault_events_injected,
                "fault_events_sent": self.fault_events_sent,
            },
            "injected": {
                "tel_jitter_ms": c.tel_clock.jitter_ms,
                "tel_drift_pct": c.clock.drift_pct,
                "burst": {"rate": lf.burst.rate, "mean": lf.burst.mean, "max": lf.burst.max_frames},
                "reply_loss": lf.reply_loss_rate,
                "hello_delay_ms": lf.hello_delay_ms,
                "slow_ms": lf.slow_reply_ms,
                "reboot_in_ms": reboot_in_ms,
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
            frames = handle_request(self.controller, item, now)
            self.boot_log.request(item, frames, now)
            extra_ms = self.link_faults.hello_delay_ms if item.verb == "HELLO" else 0
            self._send_all(frames, extra_ms)

    def _send_all(self, frames: list[Frame], extra_reply_delay_ms: int = 0) -> None:
        """Send ``frames``; replies wait ``slow`` (+ ``extra_reply_delay_ms``), events go at once."""
        delay_s = (self.link_faults.slow_reply_ms + extra_reply_delay_ms) / MS_PER_S
        for frame in frames:
            if delay_s > 0 and frame.seq is not None:
                self._send_later(delay_s, frame)
            else:
                self._send(frame)

    def _send_later(self, delay_s: float, frame: Frame) -> None:
        def fire() -> None:
            self._delayed.discard(handle)
            self._send(frame)

        handle = asyncio.get_running_loop().call_later(delay_s, fire)
        self._delayed.add(handle)

    def _drop_delayed(self) -> None:
        for handle in self._delayed:
            handle.cancel()
        self._delayed.clear()

    def _send(self, frame: Frame) -> None:
        line = self.link_faults.outgoing(encode_frame(frame))
        if line is not None and self._port is not None and self._port.write(line):
            self.frames_tx += 1
            if frame.verb == "FAULT" and frame.seq is None:
                self.fault_events_sent += 1
