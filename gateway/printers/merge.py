"""Merging a printer's partial reports into its full state (pure).

Rules: a key missing from a report leaves the state unchanged; nested objects are merged key by key;
`hms` (and any other list) replaces the list, except the AMS units and trays, which are merged by their
`id`. Values that cannot be JSON state (too deep) are dropped. The input is never mutated.
"""

from __future__ import annotations

from typing import Any

from gateway.printers.const import MAX_MERGE_DEPTH

JsonObject = dict[str, Any]

# Lists whose items are objects with an "id" and are merged item by item, keyed by that id.
ID_MERGED_LISTS = frozenset({"ams", "tray"})


def merge_report(state: JsonObject, report: JsonObject) -> JsonObject:
    """A new state: `state` with `report` merged in."""
    return _merge_object(state, report, 0)


def _merge_object(old: JsonObject, new: JsonObject, depth: int) -> JsonObject:
    merged = dict(old)
    for key, value in new.items():
        if not isinstance(key, str):
            continue
        merged[key] = _merge_value(key, old.get(key), value, depth + 1)
    return merged


def _merge_value(key: str, old: Any, new: Any, depth: int) -> Any:
    if depth > MAX_MERGE_DEPTH:
        return old
    if isinstance(new, dict):
        return _merge_object(old if isinstance(old, dict) else {}, new, depth)
    if isinstance(new, list) and key in ID_MERGED_LISTS and _all_have_ids(new):
        return _merge_by_id(old if isinstance(old, list) else [], new, depth)
    if isinstance(new, (list, dict)) and not _within_depth(new, depth):
        return old
    return new


def _all_have_ids(items: list[Any]) -> bool:
    return all(isinstance(item, dict) and isinstance(item.get("id"), (str, int)) for item in items)


def _merge_by_id(old: list[Any], new: list[JsonObject], depth: int) -> list[Any]:
    by_id: dict[str, JsonObject] = {}
    order: list[str] = []
    for item in old:
        if isinstance(item, dict) and isinstance(item.get("id"), (str, int)):
            item_id = str(item["id"])
            if item_id not in by_id:
                order.append(item_id)
            by_id[item_id] = item
    for item in new:
        item_id = str(item["id"])
        if item_id not in by_id:
            order.append(item_id)
        by_id[item_id] = _merge_object(by_id.get(item_id, {}), item, depth)
    return [by_id[item_id] for item_id in order]


def _within_depth(value: Any, depth: int) -> bool:
    if depth > MAX_MERGE_DEPTH:
        return False
    if isinstance(value, dict):
        return all(_within_depth(v, depth + 1) for v in value.values())
    if isinstance(value, list):
        return all(_within_depth(v, depth + 1) for v in value)
    return True
