"""Commands from the gateway, served inside the control process against the :class:`ControlLoop`.

Each answer is a :class:`ReplyMessage`; a refusal carries a ``code`` the gateway maps to an HTTP
status (``zone`` 404, ``range`` 422, ``faulted``/``interlock``/``busy``/``link``/``active`` 409,
``refused`` 403).
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from firmware_bridge.errors import LinkError, RequestRejected
from firmware_bridge.messages import LinkState
from firmware_bridge.telemetry import Fault
from gateway.control.autotune import RelayAutotune
from gateway.control.gpio import MockPinsRefused
from gateway.control.io_const import MOTOR_RPM_MAX, RESET_TEL_WAIT_S
from gateway.control.ipc import (
    DriveMockPin,
    EmergencyStop,
    ReplyMessage,
    RequestCommand,
    ResetFaults,
    ResetTiming,
    SetMotor,
    SetSetpoint,
    StartAutotune,
)
from gateway.control.loop import ControlLoop
from gateway.control.safety import ZoneState


class Refused(Exception):
    def __init__(self, code: str, message: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data or {}


class CommandHandler:
    """Serves one command at a time per call; calls may overlap (a reset waits for periods)."""

    def __init__(self, loop: ControlLoop) -> None:
        self.loop = loop

    async def handle(self, cmd: RequestCommand) -> ReplyMessage:
        try:
            if isinstance(cmd, SetSetpoint):
                data = self._setpoint(cmd)
            elif isinstance(cmd, SetMotor):
                data = await self._motor(cmd)
            elif isinstance(cmd, EmergencyStop):
                fault = self.loop.emergency_stop(cmd.source)
                data = {"fault": fault.code.value}
            elif isinstance(cmd, ResetFaults):
                data = await self._reset()
            elif isinstance(cmd, StartAutotune):
                data = self._autotune(cmd)
            elif isinstance(cmd, ResetTiming):
                self.loop.stats.reset()
                self.loop.timing = self.loop.stats.snapshot()
                data = {}
            else:
                data = self._mock_pin(cmd)
        except Refused as exc:
            return ReplyMessage(id=cmd.id, ok=False, code=exc.code, message=exc.message, data=exc.data)
        return ReplyMessage(id=cmd.id, ok=True, data=data)

    def _zone(self, zone: int) -> None:
        if not 0 <= zone < self.loop.zones:
            raise Refused("zone", f"no zone {zone} (zones 0..{self.loop.zones - 1})")

    def _zone_faulted(self, zone: int) -> None:
        fault = self.loop.supervisor.current().zone_fault(zone)
        if fault is not None:
            raise Refused("faulted", f"zone {zone} is faulted ({fault.code.value}); reset first")

    def _setpoint(self, cmd: SetSetpoint) -> dict[str, Any]:
        self._zone(cmd.zone)
        loop = self.loop
        value = cmd.setpoint_c
        if value is not None:
            zone_cfg = loop.settings.zones[cmd.zone]
            if not math.isfinite(value) or value < 0:
                raise Refused("range", "setpoint_c must be a temperature >= 0 degC")
            if value > zone_cfg.max_setpoint_c:
                raise Refused("range", f"setpoint_c {value:g} degC is above zone {cmd.zone}'s highest setpoint "
                                       f"{zone_cfg.max_setpoint_c:g} degC (max {zone_cfg.max_c:g} degC less a margin)")
            self._zone_faulted(cmd.zone)
        if loop.autotunes[cmd.zone] is not None:
            raise Refused("busy", f"zone {cmd.zone} is autotuning")
        loop.setpoints[cmd.zone] = value
        if value is None:
            loop.pids[cmd.zone].reset()
        return {"zone": cmd.zone, "setpoint_c": value}

    async def _motor(self, cmd: SetMotor) -> dict[str, Any]:
        loop = self.loop
        rpm = cmd.rpm
        if not math.isfinite(rpm) or not 0.0 <= rpm <= MOTOR_RPM_MAX:
            raise Refused("range", f"rpm must be within 0..{MOTOR_RPM_MAX:g}")
        verdict = loop.supervisor.current()
        if rpm > 0:
            if verdict.faults:
                raise Refused("faulted", "a fault is latched; reset first")
            if not loop.motor_may_run(verdict):
                cold = [z for z, s in enumerate(verdict.zone_states) if s is not ZoneState.HOLDING]
                raise Refused("interlock", f"cold-extrusion interlock: zones {cold} are not holding at their setpoint")
        if loop.link.state is not LinkState.UP:
            raise Refused("link", f"controller link is {loop.link.state}")
        try:
            await loop.link.request("MOTOR", rpm=round(rpm, 2))
        except RequestRejected as exc:
            raise Refused("faulted" if exc.code == "faulted" else "link", f"controller refused: {exc.code}") from None
        except LinkError as exc:
            raise Refused("link", f"controller link: {exc}") from None
        loop.motor_rpm = rpm
        return {"rpm": rpm}

    async def _reset(self) -> dict[str, Any]:
        loop = self.loop
        controller_note = None
        tel = loop.link.telemetry
        if loop.link.state is LinkState.UP and tel is not None and tel.fault is not Fault.NONE:
            try:
                await loop.link.request("CLEAR")
            except RequestRejected as exc:
                controller_note = f"controller refused CLEAR ({exc.code}): {tel.fault.value} persists"
            except LinkError as exc:
                controller_note = f"controller link: {exc}"
            if controller_note is None:
                await self._periods_until_controller_clear()
        async with asyncio.timeout(RESET_TEL_WAIT_S + 5 * loop.settings.period_s):
            await loop.next_period()
        result = loop.supervisor.reset(loop.clock())
        loop.apply_verdict()
        data: dict[str, Any] = {
            "cleared": [{"code": f.code.value, "zone": f.zone} for f in result.cleared],
            "refused": [{"code": f.code.value, "zone": f.zone, "reason": reason} for f, reason in result.refused],
        }
        if controller_note is not None:
            data["controller"] = controller_note
        if result.refused:
            reasons = "; ".join(f"{f.code.value}: {reason}" for f, reason in result.refused)
            raise Refused("active", f"faults whose cause persists stay latched: {reasons}", data)
        return data

    async def _periods_until_controller_clear(self) -> None:
        loop = self.loop
        deadline = loop.clock() + RESET_TEL_WAIT_S
        async with asyncio.timeout(RESET_TEL_WAIT_S + 5 * loop.settings.period_s):
            while loop.clock() < deadline:
                await loop.next_period()
                tel = loop.link.telemetry
                if tel is not None and tel.fault is Fault.NONE and loop.controller_fault == Fault.NONE.value:
                    return

    def _autotune(self, cmd: StartAutotune) -> dict[str, Any]:
        loop = self.loop
        self._zone(cmd.zone)
        zone_cfg = loop.settings.zones[cmd.zone]
        if not math.isfinite(cmd.target_c) or cmd.target_c <= 0 or cmd.target_c > zone_cfg.max_setpoint_c:
            raise Refused("range", f"target_c must be within 0..{zone_cfg.max_setpoint_c:g} degC")
        self._zone_faulted(cmd.zone)
        if loop.autotunes[cmd.zone] is not None:
            raise Refused("busy", f"zone {cmd.zone} is already autotuning")
        if not loop.verdict.heater_allowed[cmd.zone]:
            raise Refused("link", f"zone {cmd.zone} has no valid, fresh reading from the controller")
        try:
            settings = loop.settings.autotune.settings(cmd.target_c, zone_cfg.max_c)
            tune = RelayAutotune(settings, loop.clock())
        except ValueError as exc:
            raise Refused("range", str(exc)) from None
        loop.setpoints[cmd.zone] = None
        loop.pids[cmd.zone].reset()
        loop.autotunes[cmd.zone] = tune
        return {"zone": cmd.zone, "target_c": cmd.target_c, "cycles_needed": settings.cycles}

    def _mock_pin(self, cmd: DriveMockPin) -> dict[str, Any]:
        try:
            self.loop.gpio.drive_mock_pin(cmd.pin, cmd.high)
        except MockPinsRefused as exc:
            raise Refused("refused", str(exc)) from None
        return {"pin": cmd.pin, "high": cmd.high}
