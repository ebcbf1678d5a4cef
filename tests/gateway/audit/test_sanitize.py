"""Events are checked before storage: no secret-looking keys or values, size caps, plain JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.audit.chain import canonical_json
from gateway.audit.const import AUDIT_DETAILS_MAX_BYTES, AUDIT_TEXT_MAX_CHARS, TRUNCATION_MARKER_KEY
from gateway.audit.sanitize import details_json, is_secret_key, prepare_event

from .conftest import event

JWT_LIKE = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    "key",
    [
        "token", "password", "access_code", "secret", "key",
        "Token", "api_key", "apiKey", "apikey", "accessToken", "access-token", "refresh_token", "client_secret",
        "clientSecret", "private_key", "key_id", "tokens", "keys", "printer_access_code", "accessCode",
        "passwd", "Authorization", "cookie", "x.password",
    ],
)
def test_secret_looking_keys_are_refused(key: str) -> None:
    assert is_secret_key(key)
    with pytest.raises(ValueError, match="named like a secret"):
        details_json({key: "value"})


@pytest.mark.parametrize(
    "key", ["kid", "jti", "sub", "role", "method", "path", "status", "request_id", "ttl_s", "monkey", "already_revoked"]
)
def test_ordinary_keys_are_accepted(key: str) -> None:
    assert not is_secret_key(key)
    assert json.loads(details_json({key: 1})) == {key: 1}


@pytest.mark.parametrize(
    "details",
    [
        {"outer": {"token": "x"}},
        {"items": [{"ok": 1}, {"password": "x"}]},
    ],
)
def test_nested_secret_keys_are_refused(details: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="named like a secret"):
        details_json(details)


@pytest.mark.parametrize("value", [JWT_LIKE, f"header was Bearer {JWT_LIKE}", "Bearer abc123"])
def test_token_looking_values_are_refused_without_echoing_them(value: str) -> None:
    with pytest.raises(ValueError) as caught:
        details_json({"note": value})
    assert value not in str(caught.value)
    with pytest.raises(ValueError):
        details_json({"list": [value]})
    with pytest.raises(ValueError):
        prepare_event(event(target=value))


def test_secret_value_under_a_secret_key_is_not_echoed() -> None:
    with pytest.raises(ValueError) as caught:
        details_json({"password": "hunter2"})
    assert "hunter2" not in str(caught.value)


def test_non_json_details_are_refused() -> None:
    with pytest.raises(TypeError):
        details_json({1: "int key"})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        details_json({"when": object()})
    with pytest.raises(TypeError):
        details_json(["not", "a", "mapping"])  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        details_json({"v": float("nan")})


def test_too_deep_details_are_refused() -> None:
    deep: dict[str, Any] = {"v": 1}
    for _ in range(10):
        deep = {"d": deep}
    with pytest.raises(ValueError, match="deeper"):
        details_json(deep)


def test_small_details_are_canonical() -> None:
    assert details_json({"b": (1, 2), "a": "é"}) == '{"a":"é","b":[1,2]}'


@pytest.mark.parametrize("filler", ["x", "é", "\x01", '"'])
def test_large_details_become_a_truncation_marker(filler: str) -> None:
    original = {"blob": filler * (AUDIT_DETAILS_MAX_BYTES * 2)}
    stored = details_json(original)
    assert len(stored.encode()) <= AUDIT_DETAILS_MAX_BYTES
    marker = json.loads(stored)
    assert marker[TRUNCATION_MARKER_KEY] is True
    assert marker["original_bytes"] == len(canonical_json(original))
    assert canonical_json(original).decode().startswith(marker["preview"])


def test_details_at_the_limit_are_kept() -> None:
    overhead = len(b'{"v":""}')
    exact = {"v": "x" * (AUDIT_DETAILS_MAX_BYTES - overhead)}
    assert json.loads(details_json(exact)) == exact
    assert TRUNCATION_MARKER_KEY in json.loads(details_json({"v": "x" * (AUDIT_DETAILS_MAX_BYTES - overhead + 1)}))


def test_long_text_fields_are_cut() -> None:
    prepared = prepare_event(event(target="t" * 1000, client="c" * AUDIT_TEXT_MAX_CHARS))
    assert prepared.target is not None and len(prepared.target) == AUDIT_TEXT_MAX_CHARS
    assert prepared.target.endswith("…")
    assert prepared.client == "c" * AUDIT_TEXT_MAX_CHARS


def test_action_and_outcome_are_required() -> None:
    with pytest.raises(ValueError):
        prepare_event(event(action=""))
    with pytest.raises(ValueError):
        prepare_event(event(outcome=""))
