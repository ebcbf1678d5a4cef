"""The batch codec: idempotency key, both body formats round-trip, bad bodies refused with a reason."""

from __future__ import annotations

import gzip
import json

import pytest

from gateway.sync.batch import Batch, BatchError, SyncRow, decode_batch, encode_batch, idempotency_key

ROWS = [
    SyncRow(41, 1_763_900_000.125, "extruder", "zone0.temp_c", 212.5),
    SyncRow(42, 1_763_900_000.25, 'printer:"01S"', "nozzle_c", float("nan")),
    SyncRow(43, 1_763_900_001.0, "gateway", "gap", 17.0,
            {"count": 17, "first_seq": 26, "last_seq": 43, "first_ts": 1.5, "last_ts": 2.5}),
]


def test_key_names_gateway_epoch_and_seq_range() -> None:
    batch = Batch("gw-01", "00ab", ROWS)
    assert batch.key == idempotency_key("gw-01", "00ab", 41, 43) == "gw-01:00ab:41-43"
    assert batch.header() == {"idempotency_key": "gw-01:00ab:41-43", "gateway_id": "gw-01", "epoch": "00ab",
                              "first_seq": 41, "last_seq": 43, "count": 3}


@pytest.mark.parametrize("bad", [{"rows": []}, {"epoch": "a:b"}, {"gateway_id": "gw:1"}])
def test_batch_refuses_empty_or_ambiguous(bad: dict) -> None:
    args = {"gateway_id": "gw-01", "epoch": "00ab", "rows": ROWS, **bad}
    with pytest.raises(ValueError):
        Batch(**args)


@pytest.mark.parametrize("fmt", ["ndjson+gzip", "json"])
def test_round_trip_with_key_in_header_and_body(fmt: str) -> None:
    encoded = encode_batch(Batch("gw-01", "00ab", ROWS), fmt)
    assert encoded.headers["Idempotency-Key"] == "gw-01:00ab:41-43"
    decoded = decode_batch(encoded.body, content_type=encoded.headers["Content-Type"],
                           content_encoding=encoded.headers.get("Content-Encoding"))
    assert decoded.key == "gw-01:00ab:41-43" and (decoded.first_seq, decoded.last_seq) == (41, 43)
    assert decoded.items[0] == {"seq": 41, "ts": 1_763_900_000.125, "source": "extruder", "metric": "zone0.temp_c",
                                "value": 212.5}
    assert decoded.items[1]["value"] is None and decoded.items[1]["source"] == 'printer:"01S"'  # NaN -> null
    assert decoded.items[2]["gap"]["count"] == 17 and decoded.items[2]["metric"] == "gap"


def test_ndjson_is_gzip_with_the_header_line_first() -> None:
    encoded = encode_batch(Batch("gw-01", "00ab", ROWS), "ndjson+gzip")
    assert encoded.headers["Content-Encoding"] == "gzip"
    lines = gzip.decompress(encoded.body).decode().splitlines()
    assert len(lines) == 4 and json.loads(lines[0])["idempotency_key"] == "gw-01:00ab:41-43"
    assert encode_batch(Batch("gw-01", "00ab", ROWS), "ndjson+gzip").body == encoded.body  # deterministic


def test_unknown_format_is_an_error() -> None:
    with pytest.raises(ValueError):
        encode_batch(Batch("gw-01", "00ab", ROWS), "xml")


def _json_body(header: dict, items: list) -> bytes:
    return json.dumps({**header, "items": items}).encode()


GOOD_HEADER = {"idempotency_key": "gw:e:1-2", "count": 2}
GOOD_ITEMS = [{"seq": 1}, {"seq": 2}]


@pytest.mark.parametrize(("body", "content_type", "encoding", "reason"), [
    (b"\x1f\x8bnot gzip", "application/x-ndjson", "gzip", "unreadable"),
    (b"{not json", "application/json", None, "unreadable"),
    (b"", "application/x-ndjson", None, "empty"),
    (_json_body(GOOD_HEADER, GOOD_ITEMS), "text/plain", None, "content type"),
    (_json_body(GOOD_HEADER, []), "application/json", None, "at least one item"),
    (_json_body({"count": 2}, GOOD_ITEMS), "application/json", None, "idempotency_key"),
    (_json_body({**GOOD_HEADER, "idempotency_key": "gw:e:1-3"}, GOOD_ITEMS), "application/json", None, "does not match"),
    (_json_body({**GOOD_HEADER, "count": 5}, GOOD_ITEMS), "application/json", None, "does not match"),
])
def test_bad_bodies_are_refused_with_a_reason(body: bytes, content_type: str, encoding: str | None, reason: str) -> None:
    with pytest.raises(BatchError, match=reason):
        decode_batch(body, content_type=content_type, content_encoding=encoding)
