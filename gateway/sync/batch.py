"""Batches on the wire: the idempotency key and the body codec (pure; both directions).

A batch is a run of consecutive buffer rows of one store epoch. Its idempotency key
``gateway_id:epoch:first_seq-last_seq`` names exactly those rows, so a batch re-sent after a lost
response carries the same key and the receiver can drop the duplicate. The key travels in the
``Idempotency-Key`` header and in the body (first NDJSON line, or the JSON document's top level).

``ndjson+gzip`` body (gzip-compressed)::

    {"idempotency_key": "gw-01:e1:101-200", "gateway_id": "gw-01", "epoch": "e1", "first_seq": 101, "last_seq": 200, "count": 100}
    {"seq": 101, "ts": 1763900000.25, "source": "extruder", "metric": "zone0.temp_c", "value": 212.4}
    ...

``json`` body: the same header object with an ``items`` list of the same item objects. A gap marker
item also carries ``"gap": {"count", "first_seq", "last_seq", "first_ts", "last_ts"}``.
Non-finite values (NaN, inf) are sent as ``null`` (JSON has no such numbers).
"""

from __future__ import annotations

import gzip
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from gateway.sync import const

KEY_PATTERN = re.compile(r"^(?P<gateway>[^:]+):(?P<epoch>[^:]+):(?P<first>\d+)-(?P<last>\d+)$")


class SyncRow(NamedTuple):
    """One buffer row as the sync sends it.

    Gap markers (samples the buffer had to drop) are rows with metric ``"gap"``, value = count lost, and
    ``gap`` = the store's details (count, first/last seq and time), sent as the item's ``"gap"`` object.
    """

    seq: int
    ts: float
    source: str
    metric: str
    value: float | None
    gap: Mapping[str, Any] | None = None


class BatchError(ValueError):
    """A body that is not a valid batch (the receiver answers 400)."""


def idempotency_key(gateway_id: str, epoch: str, first_seq: int, last_seq: int) -> str:
    return f"{gateway_id}:{epoch}:{first_seq}-{last_seq}"


@dataclass(frozen=True)
class Batch:
    """Consecutive rows of one epoch, oldest first."""

    gateway_id: str
    epoch: str
    rows: Sequence[SyncRow]

    def __post_init__(self) -> None:
        if not self.rows:
            raise ValueError("a batch holds at least one row")
        if ":" in self.epoch or ":" in self.gateway_id:
            raise ValueError("gateway id and epoch must not contain ':'")

    @property
    def first_seq(self) -> int:
        return self.rows[0].seq

    @property
    def last_seq(self) -> int:
        return self.rows[-1].seq

    @property
    def key(self) -> str:
        return idempotency_key(self.gateway_id, self.epoch, self.first_seq, self.last_seq)

    def header(self) -> dict[str, Any]:
        return {"idempotency_key": self.key, "gateway_id": self.gateway_id, "epoch": self.epoch,
                "first_seq": self.first_seq, "last_seq": self.last_seq, "count": len(self.rows)}


@dataclass(frozen=True)
class EncodedBatch:
    """A body ready to POST, with the headers that describe it."""

    key: str
    body: bytes
    headers: dict[str, str]
    count: int
    first_seq: int
    last_seq: int


def _number(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "null"
    return repr(float(value))


ITEM_TEMPLATE = '{"seq":%d,"ts":%r,"source":%s,"metric":%s,"value":%r}'


def _item_lines(rows: Sequence[SyncRow]) -> list[str]:
    names: dict[str, str] = {}  # source/metric strings repeat: escape each once
    isfinite = math.isfinite
    lines: list[str] = []
    append = lines.append
    for seq, ts, source, metric, value, gap in rows:
        quoted_source = names.get(source)
        if quoted_source is None:
            quoted_source = names[source] = json.dumps(source)
        quoted_metric = names.get(metric)
        if quoted_metric is None:
            quoted_metric = names[metric] = json.dumps(metric)
        if gap is None and type(value) is float and isfinite(value) and type(ts) is float and isfinite(ts):
            append(ITEM_TEMPLATE % (seq, ts, quoted_source, quoted_metric, value))  # the common case, fast
            continue
        line = (f'{{"seq":{int(seq)},"ts":{_number(ts)},"source":{quoted_source},"metric":{quoted_metric},'
                f'"value":{_number(value)}')
        append(line + ("}" if gap is None else f',"gap":{json.dumps(gap, separators=(",", ":"))}}}'))
    return lines


def encode_batch(batch: Batch, fmt: str) -> EncodedBatch:
    header = json.dumps(batch.header(), separators=(",", ":"))
    lines = _item_lines(batch.rows)
    headers = {const.IDEMPOTENCY_HEADER: batch.key}
    if fmt == "ndjson+gzip":
        text = header + "\n" + "\n".join(lines) + "\n"
        body = gzip.compress(text.encode(), compresslevel=const.GZIP_LEVEL, mtime=0)
        headers["Content-Type"] = const.NDJSON_CONTENT_TYPE
        headers["Content-Encoding"] = "gzip"
    elif fmt == "json":
        body = (header[:-1] + ',"items":[' + ",".join(lines) + "]}").encode()
        headers["Content-Type"] = const.JSON_CONTENT_TYPE
    else:
        raise ValueError(f"unknown batch format {fmt!r}")
    return EncodedBatch(batch.key, body, headers, len(batch.rows), batch.first_seq, batch.last_seq)


@dataclass(frozen=True)
class DecodedBatch:
    """What a receiver reads back from a body."""

    key: str
    gateway_id: str
    epoch: str
    first_seq: int
    last_seq: int
    items: list[dict[str, Any]]


def decode_batch(body: bytes, *, content_type: str, content_encoding: str | None) -> DecodedBatch:
    """Parse a batch body (receiver side). Raises ``BatchError`` with a plain reason."""
    try:
        raw = gzip.decompress(body) if content_encoding == "gzip" else body
        text = raw.decode()
        if content_type.startswith(const.NDJSON_CONTENT_TYPE):
            lines = text.splitlines()
            if not lines:
                raise BatchError("empty body")
            header = json.loads(lines[0])
            items = [json.loads(line) for line in lines[1:] if line]
        elif content_type.startswith(const.JSON_CONTENT_TYPE):
            header = json.loads(text)
            items = header.pop("items", None) if isinstance(header, dict) else None
        else:
            raise BatchError(f"unsupported content type {content_type!r}")
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BatchError(f"unreadable body: {exc}") from None
    if not isinstance(header, dict) or not isinstance(items, list) or not items:
        raise BatchError("body must carry a header object and at least one item")
    key = header.get("idempotency_key")
    match = KEY_PATTERN.fullmatch(key) if isinstance(key, str) else None
    if match is None:
        raise BatchError("missing or malformed idempotency_key")
    first, last = int(match["first"]), int(match["last"])
    seqs = [item.get("seq") if isinstance(item, dict) else None for item in items]
    if seqs[0] != first or seqs[-1] != last or header.get("count") != len(items):
        raise BatchError("idempotency_key does not match the items (first_seq-last_seq and count)")
    return DecodedBatch(key, match["gateway"], match["epoch"], first, last, items)
