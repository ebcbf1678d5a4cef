"""Typed content: telemetry, events, HELLO validation, value syntax."""

from __future__ import annotations

import pytest

from firmware_bridge.errors import HandshakeRefused, ProtocolViolation
from firmware_bridge.frame import Frame
from firmware_bridge.messages import parse_hello
from firmware_bridge.telemetry import (
    Fault,
    SensorFailure,
    parse_boot_event,
    parse_fault_event,
    parse_telemetry,
)
from firmware_bridge.values import ValueSyntaxError, format_value, parse_float, parse_int

TEL_FIELDS = {
    "n": "65535", "up": "1234", "t0": "231.25", "t1": "open", "t2": "short",
    "d0": "425", "d1": "0", "d2": "1000", "rpm": "35.5", "bar": "120.25", "fault": "none",
}


def test_telemetry_is_parsed_into_typed_fields() -> None:
    tel = parse_telemetry(Frame(None, "TEL", TEL_FIELDS), received_at=3.0)
    assert tel.n == 65535 and tel.up_ms == 1234
    assert tel.temps_c == (231.25, SensorFailure.OPEN, SensorFailure.SHORT)
    assert tel.outputs_permille == (425, 0, 1000)
    assert (tel.rpm, tel.bar, tel.fault, tel.zones, tel.received_at) == (35.5, 120.25, Fault.NONE, 3, 3.0)


@pytest.mark.parametrize(
    "change",
    [{"n": None}, {"t1": None}, {"d2": None}, {"t0": "hot"}, {"fault": "melted"}, {"rpm": "1e3"}, {"t3": "1.0"}],
)
def test_inconsistent_telemetry_is_a_protocol_violation(change: dict[str, str | None]) -> None:
    fields = dict(TEL_FIELDS)
    for key, value in change.items():
        if value is None:
            del fields[key]
        else:
            fields[key] = value
    with pytest.raises(ProtocolViolation):
        parse_telemetry(Frame(None, "TEL", fields))


def test_events() -> None:
    event = parse_fault_event(Frame(None, "FAULT", {"code": "sensor", "zone": "2"}), 3)
    assert (event.code, event.zone, event.problem) == (Fault.SENSOR, 2, None)
    event = parse_fault_event(Frame(None, "FAULT", {"code": "estop", "zone": "-"}), 3)
    assert (event.code, event.zone, event.problem) == (Fault.ESTOP, None, None)
    assert parse_boot_event(Frame(None, "BOOT", {"fw": "2.1"})).fw == "2.1"


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"code": "melted", "zone": "0"}, "unknown fault code 'melted'"),
        ({"code": "overtemp", "zone": "9"}, "zone '9' the board does not have"),
        ({"code": "overtemp", "zone": "3"}, "zone '3' the board does not have"),
        ({"code": "overtemp", "zone": "x"}, "zone 'x' the board does not have"),
        ({"code": "estop"}, "no zone"),
        ({"zone": "1"}, "no fault code"),
        ({"code": "sensor", "zone": "1", "temp": "900"}, "unexpected keys temp"),
    ],
)
def test_a_fault_event_not_understood_is_described_never_dropped(fields: dict[str, str], problem: str) -> None:
    event = parse_fault_event(Frame(None, "FAULT", fields), 3)
    assert event.problem is not None and problem in event.problem
    assert event.raw_code == fields.get("code", "") and event.raw_zone == fields.get("zone", "")


HELLO = {"proto": "1", "fw": "1.0", "id": "B1", "zones": "3", "tmax": "300", "hb": "1000", "tel": "0"}


def test_hello_accepted() -> None:
    info = parse_hello(HELLO, expected_zones=3)
    assert (info.zones, info.tmax_c, info.hb_ms, info.board_id) == (3, 300.0, 1000, "B1")


@pytest.mark.parametrize(("change", "expected_zones"), [({"proto": "2"}, 3), ({}, 4), ({"zones": "9"}, 1)])
def test_hello_refused(change: dict[str, str], expected_zones: int) -> None:
    with pytest.raises(HandshakeRefused):
        parse_hello({**HELLO, **change}, expected_zones)


def test_values_are_strict() -> None:
    assert parse_int("-12") == -12 and parse_float("12.50") == 12.5
    for bad in ("1e3", "nan", "inf", "1.", ".5", "0x10", ""):
        with pytest.raises(ValueSyntaxError):
            parse_float(bad)
    with pytest.raises(ValueSyntaxError):
        parse_int("1.0")
    assert format_value(12.345) == "12.35" and format_value(-0.001) == "0" and format_value(7) == "7"
    with pytest.raises(TypeError):
        format_value(True)
