"""Secrets at rest: the key file is created 0600 once, values round-trip, wrong keys fail plainly."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from gateway.secrets.fernet import SecretError, decrypt, encrypt, load_or_create_key


def test_key_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "state" / "secrets.key"
    key = load_or_create_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(path) == key
    token = encrypt(key, "12345678")
    assert "12345678" not in token and decrypt(key, token) == "12345678"


def test_loose_permissions_are_tightened(tmp_path: Path) -> None:
    path = tmp_path / "secrets.key"
    load_or_create_key(path)
    path.chmod(0o644)
    load_or_create_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_wrong_key_or_damaged_token_or_bad_key_file(tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path / "a.key")
    other = load_or_create_key(tmp_path / "b.key")
    token = encrypt(key, "secret-code")
    for bad_key, bad_token in ((other, token), (key, token[:-4] + "AAAA"), (key, "not a token"), (key, "é")):
        with pytest.raises(SecretError) as info:
            decrypt(bad_key, bad_token)
        assert "secret-code" not in str(info.value)
    (tmp_path / "c.key").write_text("short")
    with pytest.raises(SecretError):
        load_or_create_key(tmp_path / "c.key")
