"""`--rotate` renews exactly what it names; everything else stays as it was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.provisioned import GATEWAY_ID, call_provision, seed_root, snapshot

TLS = "etc/edge-gateway/tls/"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = seed_root(tmp_path / "root")
    assert call_provision(root, "--gateway-id", GATEWAY_ID).returncode == 0
    return root


def _changed(before: dict, after: dict) -> set[str]:
    return {path for path in before.keys() | after.keys() if before.get(path) != after.get(path)}


def test_rotate_tls_and_client_renew_only_their_files(root: Path) -> None:
    before = snapshot(root)
    result = call_provision(root, "--rotate", "tls", "--rotate", "client")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # no new admin token
    changed = _changed(before, snapshot(root))
    renewed = {TLS + name for name in ("server.key", "server.crt", "server.csr", "client.key", "client.csr")}
    assert renewed <= changed
    assert changed - renewed <= {"etc/edge-gateway/tls"}  # the directory that holds them
    assert "PRIVATE KEY" not in result.stderr


def test_rotate_signing_key_retires_the_old_key(root: Path) -> None:
    keyring = root / "var/lib/edge-gateway/keys/keyring.json"
    old = {k["kid"] for k in json.loads(keyring.read_text())["keys"]}
    result = call_provision(root, "--rotate", "signing-key")
    assert result.returncode == 0, result.stderr
    keys = {k["kid"]: k["status"] for k in json.loads(keyring.read_text())["keys"]}
    assert {kid: keys[kid] for kid in old} == {kid: "retired" for kid in old}  # still verifies its tokens
    assert list(keys.values()).count("active") == 1 and set(keys) - old
    assert call_provision(root).stderr.count("nothing changed") == 1  # and the next plain run is quiet again


def test_rotate_secrets_key_keeps_the_retired_key(root: Path) -> None:
    path = root / "var/lib/edge-gateway/secrets.key"
    old = path.read_bytes()
    result = call_provision(root, "--rotate", "secrets-key")
    assert result.returncode == 0, result.stderr
    assert path.read_bytes() != old
    retired = list(path.parent.glob("secrets.key.retired-*"))
    assert len(retired) == 1 and retired[0].read_bytes() == old
    assert retired[0].stat().st_mode & 0o777 == 0o600
    assert "re-enter" in result.stderr
    assert old.decode().strip() not in result.stderr


def test_unknown_rotation_is_a_usage_error(root: Path) -> None:
    result = call_provision(root, "--rotate", "everything")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr and "Traceback" not in result.stderr
