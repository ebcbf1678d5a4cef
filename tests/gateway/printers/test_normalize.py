"""Normalising merged reports into the API's fields: HMS and print_error codes, bad types -> None."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.printers.normalize import format_hms, format_print_error, normalise


def test_fields_from_a_full_report() -> None:
    reading = normalise({"print": {
        "gcode_state": "RUNNING", "mc_percent": 42, "layer_num": 105, "total_layer_num": 250,
        "mc_remaining_time": 37, "nozzle_temper": 219.84, "nozzle_target_temper": 220, "bed_temper": 59.9,
        "bed_target_temper": 60, "chamber_temper": 31, "hms": [], "print_error": 0,
    }})
    assert (reading.gcode_state, reading.progress, reading.layer, reading.total_layers, reading.remaining_min) == \
        ("RUNNING", 42.0, 105, 250, 37)
    assert (reading.nozzle_c, reading.nozzle_target_c, reading.bed_c, reading.bed_target_c, reading.chamber_c) == \
        (219.84, 220.0, 59.9, 60.0, 31.0)
    assert reading.errors == []


def test_hms_code_format() -> None:
    assert format_hms(0x07000200, 0x00020001) == "HMS_0700_0200_0002_0001"
    assert format_hms(0x0300_1A00, 0x0001_000B) == "HMS_0300_1A00_0001_000B"
    assert format_print_error(0x0300400C) == "0300_400C"
    assert format_print_error(50348044) == "0300_400C"


def test_errors_combine_hms_and_print_error() -> None:
    reading = normalise({"print": {"hms": [{"attr": 0x07000200, "code": 0x00020001}, {"attr": 0x0C00_0300,
                                   "code": 0x0003_0009}], "print_error": 0x0500_8051}})
    assert reading.errors == ["HMS_0700_0200_0002_0001", "HMS_0C00_0300_0003_0009", "0500_8051"]


def test_wrong_types_give_none_not_errors() -> None:
    reading = normalise({"print": {
        "gcode_state": 7, "mc_percent": "lots", "layer_num": -3, "nozzle_temper": float("nan"),
        "bed_temper": True, "chamber_temper": [1], "hms": [{"attr": "x", "code": 1}, "junk", {"attr": -1, "code": 2},
                                                          {"attr": 2**40, "code": 1}], "print_error": "0300400C",
    }})
    assert reading.gcode_state is None and reading.progress is None and reading.layer is None
    assert reading.nozzle_c is None and reading.bed_c is None and reading.chamber_c is None
    assert reading.errors == []


def test_progress_is_bounded_and_missing_print_section_is_empty() -> None:
    assert normalise({"print": {"mc_percent": 140}}).progress == 100.0
    assert normalise({"print": "nope"}).gcode_state is None
    assert normalise({}).errors == []


@settings(max_examples=120, deadline=None)
@given(st.dictionaries(st.text(max_size=20), st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3), max_leaves=15)))
def test_normalise_never_raises(section: dict[str, Any]) -> None:
    reading = normalise({"print": section})
    assert all(code.startswith("HMS_") or len(code) == 9 for code in reading.errors)
