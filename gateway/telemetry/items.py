"""Rows of the ordered sample/gap stream as the items the pull API, sync and ``db export`` hand out. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gateway.telemetry.const import GAP_METRIC, GAP_SOURCE
from gateway.telemetry.cursor import Cursor

Item = dict[str, Any]
"""``{"seq", "ts", "source", "metric", "value"}``; a gap marker adds ``"gap": {count, first_seq, ...}``."""

MS_PER_S = 1000.0


@dataclass(frozen=True, slots=True)
class Page:
    """One pull: items oldest first, the cursor to pass next, and whether more items are waiting."""

    items: list[Item]
    next: Cursor
    more: bool


@dataclass(frozen=True, slots=True)
class JsonPage:
    """A pull rendered for HTTP: ``items_json`` is the JSON array of the items, oldest first."""

    items_json: str
    count: int
    next: Cursor
    more: bool


def rows_to_items(rows: Iterable[tuple[Any, ...]], names: Mapping[int, tuple[str, str]]) -> list[Item]:
    """Rows of ``schema.SELECT_AFTER`` as items; ``names`` maps series ids to (source, metric)."""
    items: list[Item] = []
    append = items.append
    for seq, ts_ms, series, value, gap_count, first_seq, first_ts_ms in rows:
        if series is not None:
            source, metric = names.get(series, ("unknown", f"series{series}"))
            append({"seq": seq, "ts": ts_ms / MS_PER_S, "source": source, "metric": metric, "value": value})
        else:
            append({
                "seq": seq, "ts": ts_ms / MS_PER_S, "source": GAP_SOURCE, "metric": GAP_METRIC, "value": gap_count,
                "gap": {"count": gap_count, "first_seq": first_seq, "last_seq": seq,
                        "first_ts": first_ts_ms / MS_PER_S, "last_ts": ts_ms / MS_PER_S},
            })
    return items
