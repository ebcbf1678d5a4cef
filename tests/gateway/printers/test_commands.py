"""Command templates: fixed shapes, clamped whole-degree temperatures, no client-supplied G-code."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.printers import commands
from gateway.printers.commands import CommandName, Heater, LightNode
from gateway.printers.config import TemperatureLimits

LIMITS = TemperatureLimits(nozzle_max_c=280, bed_max_c=100)


def test_pushall_and_print_controls() -> None:
    assert commands.pushall("7").payload == {"pushing": {"sequence_id": "7", "command": "pushall"}}
    for name in (CommandName.PAUSE, CommandName.RESUME, CommandName.STOP):
        assert commands.print_control(name, "8").payload == {"print": {"sequence_id": "8", "command": str(name),
                                                                        "param": ""}}
    with pytest.raises(ValueError):
        commands.print_control(CommandName.LIGHT, "9")


def test_light() -> None:
    body = commands.light("3", LightNode.CHAMBER, False).payload["system"]
    assert (body["command"], body["led_node"], body["led_mode"], body["sequence_id"]) == \
        ("ledctrl", "chamber_light", "off", "3")


def test_temperature_is_clamped_to_the_limits() -> None:
    built = commands.set_temperature("4", Heater.NOZZLE, 400.0, LIMITS)
    assert built.payload == {"print": {"sequence_id": "4", "command": "gcode_line", "param": "M104 S280\n"}}
    assert built.applied == {"heater": "nozzle", "requested_c": 400.0, "celsius": 280, "clamped": True,
                             "rounded": False}
    assert commands.set_temperature("5", Heater.BED, -20, LIMITS).payload["print"]["param"] == "M140 S0\n"
    rounded = commands.set_temperature("6", Heater.BED, 59.6, LIMITS)
    assert rounded.payload["print"]["param"] == "M140 S60\n"
    assert rounded.applied["clamped"] is False and rounded.applied["rounded"] is True, "only the fraction went"
    exact = commands.set_temperature("7", Heater.BED, 60, LIMITS).applied
    assert exact["clamped"] is False and exact["rounded"] is False


def test_non_finite_temperatures_are_refused() -> None:
    for value in (math.inf, -math.inf, math.nan):
        with pytest.raises(ValueError):
            commands.set_temperature("1", Heater.NOZZLE, value, LIMITS)


@given(st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(list(Heater)))
def test_any_number_gives_one_gcode_line_within_limits(celsius: float, heater: Heater) -> None:
    param = commands.set_temperature("1", heater, celsius, LIMITS).payload["print"]["param"]
    code, value = param.removesuffix("\n").split(" S")
    assert code == commands.HEATER_GCODE[heater] and param.count("\n") == 1
    assert 0 <= int(value) <= (LIMITS.nozzle_max_c if heater is Heater.NOZZLE else LIMITS.bed_max_c)


def test_reply_key() -> None:
    assert commands.reply_key(commands.pushall("1").payload) == ("pushing", "pushall")
    assert commands.reply_key(commands.light("1", LightNode.WORK, True).payload) == ("system", "ledctrl")
