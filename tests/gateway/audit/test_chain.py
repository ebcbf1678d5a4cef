"""The pure hash-chain code: canonical JSON, entry hashes, verification of in-memory entries."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.audit.chain import (
    GENESIS_HASH,
    ChainVerifier,
    canonical_json,
    entry_hash,
    hashed_fields,
    verify_chain,
)
from gateway.audit.model import StoredEntry


def test_canonical_json_sorts_keys_without_spaces() -> None:
    assert canonical_json({"b": 1, "a": [1, 2, {"d": None, "c": True}]}) == b'{"a":[1,2,{"c":true,"d":null}],"b":1}'


def test_canonical_json_is_independent_of_insertion_order() -> None:
    assert canonical_json({"x": 1, "y": {"q": 1, "p": 2}}) == canonical_json({"y": {"p": 2, "q": 1}, "x": 1})


def test_canonical_json_keeps_unicode_as_utf8() -> None:
    assert canonical_json({"naïve": "Grüße ✓ 温度"}) == '{"naïve":"Grüße ✓ 温度"}'.encode()


def test_canonical_json_floats_and_mappings() -> None:
    assert canonical_json({"t": 1.5, "z": -0.0, "big": 1e300}) == b'{"big":1e+300,"t":1.5,"z":-0.0}'
    assert canonical_json(MappingProxyType({"b": 2, "a": (1,)})) == b'{"a":[1],"b":2}'


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_canonical_json_rejects_nan_and_infinity(bad: float) -> None:
    with pytest.raises(ValueError):
        canonical_json({"v": bad})


def test_canonical_json_rejects_lone_surrogates_and_non_json() -> None:
    with pytest.raises(ValueError):
        canonical_json({"v": "\ud800"})
    with pytest.raises(TypeError):
        canonical_json({"v": {1, 2}})
    with pytest.raises(TypeError):
        canonical_json({"v": b"bytes"})


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


@given(JSON_VALUES)
def test_canonical_json_survives_a_round_trip(value: Any) -> None:
    """What is stored (canonical text) re-serialises to the same bytes when it is read back."""
    try:
        encoded = canonical_json(value)
    except ValueError:  # lone surrogates from st.text()
        return
    assert canonical_json(json.loads(encoded)) == encoded


def test_entry_hash_definition() -> None:
    fields = {"id": 1, "ts": 2.5, "action": "a"}
    expected = hashlib.sha256(GENESIS_HASH.encode() + b'{"action":"a","id":1,"ts":2.5}').hexdigest()
    assert entry_hash(GENESIS_HASH, fields) == expected
    assert entry_hash("f" * 64, fields) != expected
    assert GENESIS_HASH == "0" * 64


def make_chain(count: int) -> list[StoredEntry]:
    entries: list[StoredEntry] = []
    prev = GENESIS_HASH
    for i in range(1, count + 1):
        draft = StoredEntry(
            id=i, ts=1000.0 + i, action="act", outcome="ok", actor="bob", jti=None, client="1.2.3.4",
            target=f"t{i}", details={"i": i}, prev_hash=prev, hash="",
        )
        entry = dataclasses.replace(draft, hash=entry_hash(prev, hashed_fields(draft)))
        entries.append(entry)
        prev = entry.hash
    return entries


def test_verify_intact_and_empty_chains() -> None:
    chain = make_chain(5)
    result = verify_chain(chain)
    assert (result.ok, result.checked, result.first_broken_id, result.reason) == (True, 5, None, None)
    assert result.head_hash == chain[-1].hash
    empty = verify_chain([])
    assert empty.ok and empty.checked == 0 and empty.head_hash == GENESIS_HASH


def test_verify_altered_content() -> None:
    chain = make_chain(5)
    chain[2] = dataclasses.replace(chain[2], outcome="refused")
    result = verify_chain(chain)
    assert (result.ok, result.first_broken_id, result.checked) == (False, 3, 3)
    assert result.reason is not None and result.reason.startswith("hash mismatch")


def test_verify_removed_entry() -> None:
    chain = make_chain(5)
    del chain[1]
    result = verify_chain(chain)
    assert result.first_broken_id == 3
    assert result.reason is not None and result.reason.startswith("id gap")


def test_verify_broken_link() -> None:
    chain = make_chain(5)
    chain[3] = dataclasses.replace(chain[3], prev_hash="a" * 64)
    result = verify_chain(chain)
    assert result.first_broken_id == 4
    assert result.reason is not None and result.reason.startswith("prev link mismatch")


def test_verifier_stops_at_first_break() -> None:
    chain = make_chain(4)
    chain[1] = dataclasses.replace(chain[1], target="x")
    verifier = ChainVerifier()
    assert verifier.feed(chain[0]) is True
    assert verifier.feed(chain[1]) is False
    assert verifier.feed(chain[2]) is False
    assert verifier.broken and verifier.result().checked == 2
    assert verifier.result().head_hash == chain[0].hash
