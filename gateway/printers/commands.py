"""The only messages the gateway ever sends to a printer: fixed templates with checked values (pure).

Clients choose a command name and, for two commands, a value from a closed set or a number; they never
supply JSON or G-code. Temperatures are clamped to the printer's configured limits and rounded to whole
degrees before they are put into the one G-code template; `applied` says which of the two happened
(`clamped`: the limit applied; `rounded`: only the fraction went).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from gateway.printers.config import TemperatureLimits


class CommandName(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"
    PUSHALL = "pushall"
    LIGHT = "light"
    SET_TEMPERATURE = "set_temperature"


class LightNode(StrEnum):
    CHAMBER = "chamber_light"
    WORK = "work_light"


class Heater(StrEnum):
    NOZZLE = "nozzle"
    BED = "bed"


# Each heater's G-code: M104 sets the nozzle target, M140 the bed target; S is whole degrees.
HEATER_GCODE = {Heater.NOZZLE: "M104", Heater.BED: "M140"}


@dataclass(frozen=True)
class BuiltCommand:
    """A message ready to publish, with what the audit log and the client are told about it."""

    name: CommandName
    sequence_id: str
    payload: dict[str, Any]
    applied: dict[str, Any]  # the effective values (after clamping)


def clamp_celsius(value: float, maximum: float) -> int:
    """A finite target within 0..maximum, whole degrees (non-finite input is refused)."""
    if not math.isfinite(value):
        raise ValueError("temperature must be a finite number")
    return int(round(min(max(value, 0.0), maximum)))


def heater_limit(limits: TemperatureLimits, heater: Heater) -> float:
    return limits.nozzle_max_c if heater is Heater.NOZZLE else limits.bed_max_c


def pushall(sequence_id: str) -> BuiltCommand:
    payload = {"pushing": {"sequence_id": sequence_id, "command": "pushall"}}
    return BuiltCommand(CommandName.PUSHALL, sequence_id, payload, {})


def print_control(name: CommandName, sequence_id: str) -> BuiltCommand:
    if name not in (CommandName.PAUSE, CommandName.RESUME, CommandName.STOP):
        raise ValueError(f"not a print control command: {name}")
    payload = {"print": {"sequence_id": sequence_id, "command": str(name), "param": ""}}
    return BuiltCommand(name, sequence_id, payload, {})


def light(sequence_id: str, node: LightNode, on: bool) -> BuiltCommand:
    payload = {"system": {
        "sequence_id": sequence_id, "command": "ledctrl", "led_node": str(node), "led_mode": "on" if on else "off",
        "led_on_time": 500, "led_off_time": 500, "loop_times": 0, "interval_time": 0,
    }}
    return BuiltCommand(CommandName.LIGHT, sequence_id, payload, {"node": str(node), "on": on})


def set_temperature(sequence_id: str, heater: Heater, celsius: float, limits: TemperatureLimits) -> BuiltCommand:
    maximum = heater_limit(limits, heater)
    target = clamp_celsius(celsius, maximum)
    payload = {"print": {"sequence_id": sequence_id, "command": "gcode_line",
                         "param": f"{HEATER_GCODE[heater]} S{target}\n"}}
    clamped = not 0.0 <= celsius <= maximum
    applied = {"heater": str(heater), "requested_c": celsius, "celsius": target, "clamped": clamped,
               "rounded": not clamped and target != celsius}
    return BuiltCommand(CommandName.SET_TEMPERATURE, sequence_id, payload, applied)


def reply_key(payload: dict[str, Any]) -> tuple[str, str] | None:
    """(section, command) a printer's reply to this payload carries, to match replies to commands."""
    for section, body in payload.items():
        if isinstance(body, dict) and isinstance(body.get("command"), str):
            return section, body["command"]
    return None
