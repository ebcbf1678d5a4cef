"""What a printer's report may bring into the merged state (pure): known fields of the right type, and
within the bounds that keep one printer's state small whatever it sends.

- A field the gateway reads (`print.gcode_state`, `print.nozzle_temper`, ...) with another JSON type than
  the one it reads is dropped from the report and counted: a printer saying `"gcode_state": 12` leaves
  the last good state in place instead of nulling it.
- Keys longer than `MAX_KEY_CHARS`, strings longer than `MAX_VALUE_CHARS` and lists longer than
  `MAX_LIST_ITEMS` are dropped and counted.
- The merged state holds at most `MAX_STATE_KEYS` keys (all levels); a report that would take it past
  that is dropped whole and counted. With the two limits above this bounds the state's size.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.printers import const

JsonObject = dict[str, Any]

_NUMBER = (int, float)
_TEXT_OR_NUMBER = (str, int, float)
# The fields of `print` the gateway reads (normalize.py), with the JSON types it accepts for each.
READ_FIELDS: Mapping[str, tuple[type, ...]] = {
    "gcode_state": (str,),
    "mc_percent": _TEXT_OR_NUMBER,
    "layer_num": _TEXT_OR_NUMBER,
    "total_layer_num": _TEXT_OR_NUMBER,
    "mc_remaining_time": _TEXT_OR_NUMBER,
    "nozzle_temper": _TEXT_OR_NUMBER,
    "nozzle_target_temper": _TEXT_OR_NUMBER,
    "bed_temper": _TEXT_OR_NUMBER,
    "bed_target_temper": _TEXT_OR_NUMBER,
    "chamber_temper": _TEXT_OR_NUMBER,
    "print_error": (int,),
    "hms": (list,),
    "lights_report": (list,),
    "ams": (dict,),
}


@dataclass(frozen=True)
class Checked:
    report: JsonObject
    """The report with what may not be merged taken out."""
    wrong_type: int = 0
    oversized: int = 0


def check_report(report: JsonObject) -> Checked:
    """Take out of ``report`` the read fields of the wrong type and every oversized key, value or list."""
    counts = {"wrong_type": 0, "oversized": 0}
    cleaned = _clean_object(report, counts)
    section = cleaned.get("print")
    if isinstance(section, dict):
        for key, types in READ_FIELDS.items():
            if key in section and (isinstance(section[key], bool) or not isinstance(section[key], types)):
                del section[key]
                counts["wrong_type"] += 1
    return Checked(cleaned, counts["wrong_type"], counts["oversized"])


def _clean_object(value: JsonObject, counts: dict[str, int]) -> JsonObject:
    out: JsonObject = {}
    for key, item in value.items():
        if not isinstance(key, str) or len(key) > const.MAX_KEY_CHARS:
            counts["oversized"] += 1
            continue
        cleaned = _clean(item, counts)
        if cleaned is _DROP:
            counts["oversized"] += 1
            continue
        out[key] = cleaned
    return out


_DROP = object()


def _clean(value: Any, counts: dict[str, int]) -> Any:
    if isinstance(value, str):
        return value if len(value) <= const.MAX_VALUE_CHARS else _DROP
    if isinstance(value, dict):
        return _clean_object(value, counts)
    if isinstance(value, list):
        if len(value) > const.MAX_LIST_ITEMS:
            return _DROP
        items = [_clean(item, counts) for item in value]
        return [item for item in items if item is not _DROP]
    return value


def count_keys(value: Any) -> int:
    """Keys in ``value`` at every level (inside lists too)."""
    if isinstance(value, dict):
        return len(value) + sum(count_keys(item) for item in value.values())
    if isinstance(value, list):
        return sum(count_keys(item) for item in value)
    return 0


def has_list(value: Any) -> bool:
    """Whether ``value`` holds a list at any level."""
    if isinstance(value, list):
        return True
    return isinstance(value, dict) and any(has_list(item) for item in value.values())


def key_growth(state: Any, report: Any) -> int:
    """How many keys merging a list-free ``report`` into ``state`` adds (negative: removes).

    Walks the report, not the state, except where a scalar replaces an object that was there.
    """
    if isinstance(report, dict):
        if not isinstance(state, dict):
            return count_keys(report) - count_keys(state)
        growth = 0
        for key, item in report.items():
            if key in state:
                growth += key_growth(state[key], item)
            else:
                growth += 1 + count_keys(item)
        return growth
    return count_keys(report) - count_keys(state)
