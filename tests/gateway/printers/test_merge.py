"""Report merging: missing keys keep state, nested objects merge, hms replaces, AMS trays merge by id."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.printers.const import MAX_MERGE_DEPTH
from gateway.printers.merge import merge_report

FULL = {"print": {
    "gcode_state": "RUNNING", "mc_percent": 10, "nozzle_temper": 219.5, "bed_temper": 60.0,
    "hms": [{"attr": 1, "code": 2}, {"attr": 3, "code": 4}],
    "ams": {"tray_now": "0", "ams": [{"id": "0", "humidity": "4", "tray": [
        {"id": "0", "tray_type": "PLA", "remain": 80}, {"id": "1", "tray_type": "PETG", "remain": 40}]}]},
}}


def test_delta_changes_only_its_keys() -> None:
    merged = merge_report(FULL, {"print": {"mc_percent": 11, "nozzle_temper": 220.1}})
    assert merged["print"]["mc_percent"] == 11
    assert merged["print"]["nozzle_temper"] == 220.1
    assert merged["print"]["gcode_state"] == "RUNNING"
    assert merged["print"]["bed_temper"] == 60.0


def test_hms_list_is_replaced_not_appended() -> None:
    assert merge_report(FULL, {"print": {"hms": []}})["print"]["hms"] == []
    assert merge_report(FULL, {"print": {"hms": [{"attr": 9, "code": 9}]}})["print"]["hms"] == [{"attr": 9, "code": 9}]


def test_ams_trays_merge_by_id() -> None:
    merged = merge_report(FULL, {"print": {"ams": {"ams": [{"id": "0", "tray": [{"id": "1", "remain": 39}]}]}}})
    trays = merged["print"]["ams"]["ams"][0]["tray"]
    assert trays == [{"id": "0", "tray_type": "PLA", "remain": 80}, {"id": "1", "tray_type": "PETG", "remain": 39}]
    assert merged["print"]["ams"]["ams"][0]["humidity"] == "4"
    assert merged["print"]["ams"]["tray_now"] == "0"


def test_new_ams_unit_is_added() -> None:
    merged = merge_report(FULL, {"print": {"ams": {"ams": [{"id": "1", "tray": []}]}}})
    assert [unit["id"] for unit in merged["print"]["ams"]["ams"]] == ["0", "1"]


def test_inputs_are_not_mutated() -> None:
    state, delta = copy.deepcopy(FULL), {"print": {"ams": {"ams": [{"id": "0", "tray": [{"id": "0", "remain": 1}]}]}}}
    before_state, before_delta = copy.deepcopy(state), copy.deepcopy(delta)
    merge_report(state, delta)
    assert state == before_state and delta == before_delta


def test_a_scalar_replacing_an_object_and_back() -> None:
    merged = merge_report(FULL, {"print": 5})
    assert merged["print"] == 5
    assert merge_report(merged, {"print": {"mc_percent": 1}}) == {"print": {"mc_percent": 1}}


def test_too_deep_values_are_dropped() -> None:
    deep: Any = 1
    for _ in range(MAX_MERGE_DEPTH + 5):
        deep = {"x": deep}
    merged = merge_report({"print": {"a": 1}}, {"print": {"a": 2, "deep": deep}})
    assert merged["print"]["a"] == 2

    def depth(value: Any) -> int:
        return 1 + max(map(depth, value.values()), default=0) if isinstance(value, dict) else 0

    assert depth(merged) <= MAX_MERGE_DEPTH + 1


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(
        ["print", "hms", "ams", "tray", "id", "mc_percent", "x"]), children, max_size=4),
    max_leaves=25,
)
json_objects = st.dictionaries(st.sampled_from(["print", "system", "info", "ams", "hms"]), json_values, max_size=4)


@settings(max_examples=120, deadline=None)
@given(json_objects, json_objects)
def test_merge_never_fails_and_keeps_untouched_keys(state: dict[str, Any], report: dict[str, Any]) -> None:
    merged = merge_report(state, report)
    for key, value in state.items():
        if key not in report:
            assert merged[key] == value
    for key, value in report.items():
        if not isinstance(value, (dict, list)):
            assert merged[key] == value or value != value


@settings(max_examples=80, deadline=None)
@given(json_objects)
def test_merging_a_report_twice_changes_nothing_more(report: dict[str, Any]) -> None:
    once = merge_report({}, report)
    assert merge_report(once, report) == once


_scalars = st.one_of(st.integers(-5, 5), st.text(max_size=3), st.none())
_trees = st.recursive(_scalars, lambda children: st.one_of(
    st.dictionaries(st.sampled_from(["a", "b", "c", "ams", "tray", "id"]), children, max_size=3),
    st.lists(children, max_size=3)), max_leaves=12)


@given(st.dictionaries(st.sampled_from(["print", "x"]), _trees, max_size=2),
       st.dictionaries(st.sampled_from(["print", "x"]), _trees, max_size=2))
@settings(max_examples=300)
def test_key_accounting_matches_the_merged_state(state: dict[str, Any], report: dict[str, Any]) -> None:
    from gateway.printers.report_check import count_keys, has_list, key_growth

    merged = merge_report(state, report)
    if not has_list(report):
        assert count_keys(state) + key_growth(state, report) == count_keys(merged)
