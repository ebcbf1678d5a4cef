"""From a printer's merged report to the fields of the API (pure).

Every field is read defensively: a missing value, a wrong type or a non-finite number gives None,
never an exception. HMS entries become `HMS_XXXX_XXXX_XXXX_XXXX` (the two 16-bit halves of `attr`,
then of `code`, upper-case hex); a non-zero `print_error` becomes `XXXX_XXXX`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

U32_MAX = 0xFFFF_FFFF
U16_MASK = 0xFFFF
MAX_ERRORS_SHOWN = 64
MAX_LIGHTS = 8


@dataclass(frozen=True)
class PrinterReading:
    """The normalised view of one printer's state."""

    gcode_state: str | None = None
    progress: float | None = None
    layer: int | None = None
    total_layers: int | None = None
    remaining_min: int | None = None
    nozzle_c: float | None = None
    nozzle_target_c: float | None = None
    bed_c: float | None = None
    bed_target_c: float | None = None
    chamber_c: float | None = None
    errors: list[str] = field(default_factory=list)
    ams_trays: list[dict[str, Any]] = field(default_factory=list)
    lights: list[tuple[str, str]] = field(default_factory=list)
    """(node, mode) of each light in `lights_report`."""


def format_hms(attr: int, code: int) -> str:
    return f"HMS_{attr >> 16:04X}_{attr & U16_MASK:04X}_{code >> 16:04X}_{code & U16_MASK:04X}"


def format_print_error(value: int) -> str:
    return f"{value >> 16:04X}_{value & U16_MASK:04X}"


def as_u32(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= U32_MAX:
        return None
    return value


def as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if not isinstance(value, (int, float)):
        return None
    number = float(value)
    return round(number, 2) if math.isfinite(number) else None


def as_int(value: Any) -> int | None:
    number = as_float(value)
    if number is None or abs(number) > 2**53:
        return None
    return int(number)


def as_text(value: Any, max_chars: int = 64) -> str | None:
    return value[:max_chars] if isinstance(value, str) and value else None


def hms_codes(hms: Any) -> list[str]:
    if not isinstance(hms, list):
        return []
    codes = []
    for entry in hms:
        if not isinstance(entry, dict):
            continue
        attr, code = as_u32(entry.get("attr")), as_u32(entry.get("code"))
        if attr is not None and code is not None:
            codes.append(format_hms(attr, code))
    return codes


def error_codes(print_section: dict[str, Any]) -> list[str]:
    codes = hms_codes(print_section.get("hms"))
    print_error = as_u32(print_section.get("print_error"))
    if print_error:
        codes.append(format_print_error(print_error))
    return list(dict.fromkeys(codes))[:MAX_ERRORS_SHOWN]


def _progress(value: Any) -> float | None:
    number = as_float(value)
    return None if number is None else min(100.0, max(0.0, number))


def _non_negative(value: Any) -> int | None:
    number = as_int(value)
    return None if number is None or number < 0 else number


def ams_trays(print_section: dict[str, Any]) -> list[dict[str, Any]]:
    """Each loaded AMS tray: unit id, tray id, material type and colour."""
    ams = print_section.get("ams")
    units = ams.get("ams") if isinstance(ams, dict) else None
    if not isinstance(units, list):
        return []
    trays = []
    for unit in units:
        if not isinstance(unit, dict) or not isinstance(unit.get("tray"), list):
            continue
        for tray in unit["tray"]:
            if isinstance(tray, dict) and "id" in tray:
                trays.append({"unit": as_text(str(unit.get("id")), 8), "tray": as_text(str(tray.get("id")), 8),
                              "type": as_text(tray.get("tray_type"), 16), "color": as_text(tray.get("tray_color"), 8)})
    return trays


def normalise(state: dict[str, Any]) -> PrinterReading:
    """The API's fields from the merged state (the printer's `print` object holds them)."""
    section = state.get("print")
    if not isinstance(section, dict):
        return PrinterReading()
    return PrinterReading(
        gcode_state=as_text(section.get("gcode_state"), 32),
        progress=_progress(section.get("mc_percent")),
        layer=_non_negative(section.get("layer_num")),
        total_layers=_non_negative(section.get("total_layer_num")),
        remaining_min=_non_negative(section.get("mc_remaining_time")),
        nozzle_c=as_float(section.get("nozzle_temper")),
        nozzle_target_c=as_float(section.get("nozzle_target_temper")),
        bed_c=as_float(section.get("bed_temper")),
        bed_target_c=as_float(section.get("bed_target_temper")),
        chamber_c=as_float(section.get("chamber_temper")),
        errors=error_codes(section),
        ams_trays=ams_trays(section),
        lights=lights(section),
    )


def lights(print_section: dict[str, Any]) -> list[tuple[str, str]]:
    """Each reported light: `lights_report` is a list of {node, mode}."""
    report = print_section.get("lights_report")
    if not isinstance(report, list):
        return []
    found = []
    for entry in report[:MAX_LIGHTS]:
        if isinstance(entry, dict):
            node, mode = as_text(entry.get("node"), 32), as_text(entry.get("mode"), 16)
            if node is not None and mode is not None:
                found.append((node, mode))
    return found
