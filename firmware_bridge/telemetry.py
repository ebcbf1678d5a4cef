"""Typed telemetry and events sent by the controller (SEQ ``!``), and their parsing."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Final

from firmware_bridge.errors import ProtocolViolation
from firmware_bridge.frame import Frame
from firmware_bridge.values import ValueSyntaxError, parse_float, parse_int

_ZONE_KEY_RE: Final = re.compile(r"([td])([0-9])")


class Fault(enum.StrEnum):
    """Latched fault of the controller (``fault=`` in ``TEL``/``STATUS``, ``code=`` in ``! FAULT``)."""

    NONE = "none"
    ESTOP = "estop"
    HOST_TIMEOUT = "host_timeout"
    OVERTEMP = "overtemp"
    SENSOR = "sensor"
    BROWNOUT = "brownout"
    INTERNAL = "internal"


class SensorFailure(enum.StrEnum):
    """Marker a failed sensor reports instead of a temperature."""

    OPEN = "open"
    SHORT = "short"


Temperature = float | SensorFailure
"""A zone reading: degrees Celsius, or the failure marker."""


@dataclass(frozen=True, slots=True)
class Telemetry:
    """One ``! TEL`` frame.

    ``temps_c[i]``/``outputs_permille[i]`` belong to zone ``i``; outputs are what the controller
    actually applies (0 while faulted), not what the host asked for.
    """

    n: int
    """Frame counter 0..65535, wrapping."""
    up_ms: int
    """Controller uptime."""
    temps_c: tuple[Temperature, ...]
    outputs_permille: tuple[int, ...]
    rpm: float
    """Measured screw speed."""
    bar: float
    """Melt pressure."""
    fault: Fault
    received_at: float = 0.0
    """Host monotonic clock (s) when the frame was decoded."""

    @property
    def zones(self) -> int:
        """Number of zones reported."""
        return len(self.temps_c)


@dataclass(frozen=True, slots=True)
class FaultEvent:
    """``! FAULT code=FAULT zone=N|-``: the controller says it latched a fault.

    The host latches it whatever ``TEL`` says. ``problem`` is set when the event is not understood (an
    unknown code, a zone the board does not have, a missing or malformed key): a protocol error, which
    the host latches as a controller fault as well. ``code``/``zone`` are then ``None`` where unusable;
    ``raw_code``/``raw_zone`` keep what the board sent.
    """

    code: Fault | None
    zone: int | None
    raw_code: str = ""
    raw_zone: str = ""
    problem: str | None = None
    received_at: float = 0.0


@dataclass(frozen=True, slots=True)
class BootEvent:
    """``! BOOT fw=VERSION``: the controller was reset; all its outputs are 0."""

    fw: str
    received_at: float = 0.0


def parse_temperature(text: str) -> Temperature:
    """Parse a ``tN`` value."""
    if text in ("open", "short"):
        return SensorFailure(text)
    return parse_float(text)


def format_temperature(value: Temperature, decimals: int = 2) -> str:
    """Render a ``tN`` value with ``decimals`` (1 or 2) decimals or the failure marker."""
    if isinstance(value, SensorFailure):
        return value.value
    return f"{value:.{decimals}f}"


def parse_zone(text: str) -> int | None:
    """Parse the ``zone`` of a fault: a zone number or ``-``."""
    return None if text == "-" else parse_int(text)


def _fault(text: str) -> Fault:
    try:
        return Fault(text)
    except ValueError:
        raise ProtocolViolation(f"unknown fault {text!r}") from None


def parse_telemetry(frame: Frame, received_at: float = 0.0) -> Telemetry:
    """Build a :class:`Telemetry` from a ``! TEL`` frame; raise :class:`ProtocolViolation`."""
    f = frame.fields
    try:
        temps: dict[int, Temperature] = {}
        outputs: dict[int, int] = {}
        for key, value in f.items():
            m = _ZONE_KEY_RE.fullmatch(key)
            if m is None:
                continue
            if m[1] == "t":
                temps[int(m[2])] = parse_temperature(value)
            else:
                outputs[int(m[2])] = parse_int(value)
        zones = len(temps)
        if zones == 0 or set(temps) != set(range(zones)) or set(outputs) != set(temps):
            raise ProtocolViolation(f"TEL zones inconsistent: {sorted(f)}")
        return Telemetry(
            n=parse_int(f["n"]),
            up_ms=parse_int(f["up"]),
            temps_c=tuple(temps[i] for i in range(zones)),
            outputs_permille=tuple(outputs[i] for i in range(zones)),
            rpm=parse_float(f["rpm"]),
            bar=parse_float(f["bar"]),
            fault=_fault(f["fault"]),
            received_at=received_at,
        )
    except KeyError as exc:
        raise ProtocolViolation(f"TEL without {exc.args[0]}") from None
    except ValueSyntaxError as exc:
        raise ProtocolViolation(f"TEL value: {exc}") from None


def parse_fault_event(frame: Frame, board_zones: int | None, received_at: float = 0.0) -> FaultEvent:
    """Build a :class:`FaultEvent` from a ``! FAULT`` frame (never raises: what is not understood is
    described in ``problem``). ``board_zones``: zones the board reported in ``HELLO`` (``None``: unknown)."""
    raw_code = frame.fields.get("code", "")
    raw_zone = frame.fields.get("zone", "")
    problems: list[str] = []
    try:
        code: Fault | None = Fault(raw_code)
    except ValueError:
        code = None
        problems.append(f"unknown fault code {raw_code!r}" if raw_code else "no fault code")
    zone: int | None = None
    if raw_zone != "-":
        try:
            zone = parse_zone(raw_zone) if raw_zone else None
        except ValueSyntaxError:
            zone = None
        if zone is None or zone < 0 or (board_zones is not None and zone >= board_zones):
            problems.append(f"zone {raw_zone!r} the board does not have" if raw_zone else "no zone")
            zone = None
    extra = sorted(set(frame.fields) - {"code", "zone"})
    if extra:
        problems.append(f"unexpected keys {', '.join(extra)}")
    return FaultEvent(code, zone, raw_code, raw_zone, "; ".join(problems) or None, received_at)


def parse_boot_event(frame: Frame, received_at: float = 0.0) -> BootEvent:
    """Build a :class:`BootEvent` from a ``! BOOT`` frame."""
    try:
        return BootEvent(frame.fields["fw"], received_at)
    except KeyError:
        raise ProtocolViolation("BOOT without fw") from None
