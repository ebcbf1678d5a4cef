"""Applying a parsed injection command (:mod:`firmware_bridge.simulator.faults`) to a running simulator."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from firmware_bridge.frame import Frame
from firmware_bridge.simulator.evidence import BootReason
from firmware_bridge.simulator.faults import FaultCommand, FaultKind
from firmware_bridge.simulator.plant import HeaterCondition, SensorCondition
from firmware_bridge.simulator.sim_constants import BURST_DEFAULT_MAX_FRAMES, BURST_DEFAULT_MEAN_FRAMES

if TYPE_CHECKING:
    from firmware_bridge.simulator.runtime import Simulator


def _check_zone(sim: Simulator, zone: int | None) -> int:
    if zone is None or not 0 <= zone < sim.plant.zones:
        raise ValueError(f"no zone {zone}")
    return zone


def _sensor(sim: Simulator, cmd: FaultCommand) -> None:
    assert isinstance(cmd.condition, SensorCondition)
    sim.plant.set_sensor(_check_zone(sim, cmd.zone), cmd.condition)


def _heater(sim: Simulator, cmd: FaultCommand) -> None:
    assert isinstance(cmd.condition, HeaterCondition)
    sim.plant.set_heater(_check_zone(sim, cmd.zone), cmd.condition)


def _crc(sim: Simulator, cmd: FaultCommand) -> None:
    sim.link_faults.crc_tx_rate = cmd.rate or 0.0


def _crc_rx(sim: Simulator, cmd: FaultCommand) -> None:
    sim.link_faults.crc_rx_rate = cmd.rate or 0.0


def _drop(sim: Simulator, cmd: FaultCommand) -> None:
    sim.link_faults.drop_rate = cmd.rate or 0.0


def _silence(sim: Simulator, cmd: FaultCommand) -> None:
    sim.link_faults.silent = bool(cmd.on)


def _slow(sim: Simulator, cmd: FaultCommand) -> None:
    sim.link_faults.slow_reply_ms = cmd.ms or 0


def _reset(sim: Simulator, cmd: FaultCommand) -> None:
    sim.boot(BootReason.RESET)


def _unplug(sim: Simulator, cmd: FaultCommand) -> None:
    sim.unplug()
    if cmd.ms is not None:
        sim.schedule_replug(cmd.ms)


def _replug(sim: Simulator, cmd: FaultCommand) -> None:
    sim.replug()


def _clear(sim: Simulator, cmd: FaultCommand) -> None:
    sim.link_faults.clear()
    for zone in range(sim.plant.zones):
        sim.plant.set_sensor(zone, SensorCondition.OK)
        sim.plant.set_heater(zone, HeaterCondition.OK)
    tel = sim.controller.tel_clock
    if tel.jitter_ms:
        tel.set_jitter(0.0)
    if tel.clock.drift_pct:
        tel.set_drift(0.0, sim.now())
    sim.cancel_reboot()


def _tel_jitter(sim: Simulator, cmd: FaultCommand) -> None:
    sim.controller.tel_clock.set_jitter(float(cmd.ms or 0))


def _tel_drift(sim: Simulator, cmd: FaultCommand) -> None:
    sim.controller.tel_clock.set_drift(cmd.pct or 0.0, sim.now())


def _burst(sim: Simulator, cmd: FaultCommand) -> None:
    sim.link_faults.burst.configure(
        cmd.rate or 0.0, cmd.burst_mean or BURST_DEFAULT_MEAN_FRAMES, cmd.burst_max or BURST_DEFAULT_MAX_FRAMES
    )


def _reply_loss(sim: Simulator, cmd: FaultCommand) -> None:
    sim.link_faults.reply_loss_rate = cmd.rate or 0.0


def _reboot(sim: Simulator, cmd: FaultCommand) -> None:
    sim.schedule_reboot(cmd.ms or 0)


def _hello_delay(sim: Simulator, cmd: FaultCommand) -> None:
    sim.link_faults.hello_delay_ms = cmd.ms or 0


def _fault_event(sim: Simulator, cmd: FaultCommand) -> None:
    assert cmd.code is not None and cmd.event_zone is not None
    sim.fault_events_injected += 1
    sim.send_event(Frame(None, "FAULT", {"code": cmd.code, "zone": cmd.event_zone}))


def _swap(sim: Simulator, cmd: FaultCommand) -> None:
    assert cmd.board_id is not None
    c = sim.controller
    c.config = dataclasses.replace(c.config, board_id=cmd.board_id)
    sim.boot(BootReason.SWAP)


APPLIERS: Final[dict[FaultKind, Callable[[Simulator, FaultCommand], None]]] = {
    FaultKind.SENSOR: _sensor,
    FaultKind.HEATER: _heater,
    FaultKind.CRC: _crc,
    FaultKind.CRC_RX: _crc_rx,
    FaultKind.DROP: _drop,
    FaultKind.SILENCE: _silence,
    FaultKind.SLOW: _slow,
    FaultKind.RESET: _reset,
    FaultKind.UNPLUG: _unplug,
    FaultKind.REPLUG: _replug,
    FaultKind.CLEAR: _clear,
    FaultKind.TEL_JITTER: _tel_jitter,
    FaultKind.TEL_DRIFT: _tel_drift,
    FaultKind.BURST: _burst,
    FaultKind.REPLY_LOSS: _reply_loss,
    FaultKind.REBOOT: _reboot,
    FaultKind.HELLO_DELAY: _hello_delay,
    FaultKind.FAULT_EVENT: _fault_event,
    FaultKind.SWAP: _swap,
}
"""One applier per command; every :class:`FaultKind` has one."""


def apply_fault(sim: Simulator, cmd: FaultCommand) -> None:
    """Apply ``cmd`` to ``sim`` (``ValueError`` for a zone the board does not have)."""
    APPLIERS[cmd.kind](sim, cmd)
