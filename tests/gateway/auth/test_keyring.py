"""Tests of gateway.auth.keyring: files, modes, rotation, pruning, revocation and reloading."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key

from gateway.auth.errors import AuthError, KeyringError
from gateway.auth.keyring import KeyInfo, Keyring, UnknownKeyError
from gateway.auth.tokens import TokenService
from tests.support.clock import FakeClock

START = 1_700_000_000.0
DAY_S = 86_400.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    return tmp_path / "state" / "keys"


@pytest.fixture
def keyring(keys_dir: Path, clock: FakeClock) -> Iterator[Keyring]:
    with Keyring.open(keys_dir, clock) as kr:
        yield kr


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def sign_and_check(keyring: Keyring, kid: str) -> None:
    """The private key of ``kid`` signs something its verification key accepts."""
    signing_kid, private = keyring.signing_key()
    assert signing_kid == kid
    keyring.verification_key(kid).verify(private.sign(b"payload"), b"payload")


def test_open_creates_directory_first_key_and_metadata(keyring: Keyring, keys_dir: Path) -> None:
    kid = keyring.active_kid
    assert 8 <= len(kid) <= 64
    assert kid.replace("-", "").replace("_", "").isalnum()
    [info] = keyring.keys()
    assert info == KeyInfo(kid=kid, status="active", created_at=START, retired_at=None, revoked_at=None)
    assert (keys_dir / f"{kid}.pem").is_file()
    doc = json.loads((keys_dir / "keyring.json").read_text())
    assert [k["kid"] for k in doc["keys"]] == [kid]
    sign_and_check(keyring, kid)


def test_file_and_directory_modes(keyring: Keyring, keys_dir: Path) -> None:
    assert mode(keys_dir) == 0o700
    assert mode(keys_dir / f"{keyring.active_kid}.pem") == 0o600
    assert mode(keys_dir / "keyring.json") == 0o600
    keyring.rotate(retain_s=DAY_S)
    for path in keys_dir.iterdir():
        assert mode(path) == 0o600, path.name
    assert not [p for p in keys_dir.iterdir() if p.name.endswith(".tmp")]


def test_modes_hold_even_with_permissive_umask(keys_dir: Path, clock: FakeClock) -> None:
    old = os.umask(0)
    try:
        with Keyring.open(keys_dir, clock) as kr:
            kr.rotate(retain_s=DAY_S)
    finally:
        os.umask(old)
    assert mode(keys_dir) == 0o700
    for path in keys_dir.iterdir():
        assert mode(path) == 0o600, path.name


def test_key_file_is_pkcs8_pem_ed25519(keyring: Keyring, keys_dir: Path) -> None:
    pem = (keys_dir / f"{keyring.active_kid}.pem").read_bytes()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    key = serialization.load_pem_private_key(pem, password=None)
    assert key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    ) == keyring.verification_key(keyring.active_kid).public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def test_reopen_keeps_the_same_key(keyring: Keyring, keys_dir: Path, clock: FakeClock) -> None:
    kid, private = keyring.signing_key()
    clock.advance(10)
    with Keyring.open(keys_dir, clock) as again:
        assert again.active_kid == kid
        assert again.keys() == keyring.keys()
        again.verification_key(kid).verify(private.sign(b"x"), b"x")


def test_open_without_create(keys_dir: Path, clock: FakeClock) -> None:
    with pytest.raises(KeyringError, match="does not exist"):
        Keyring.open(keys_dir, clock, create=False)
    keys_dir.mkdir(parents=True, mode=0o700)
    with pytest.raises(KeyringError, match="no keyring"):
        Keyring.open(keys_dir, clock, create=False)
    assert list(keys_dir.iterdir()) == []
    with Keyring.open(keys_dir, clock) as created, Keyring.open(keys_dir, clock, create=False) as opened:
        assert opened.active_kid == created.active_kid


def test_kids_are_unique(keyring: Keyring) -> None:
    for _ in range(5):
        keyring.rotate(retain_s=DAY_S)
    kids = [k.kid for k in keyring.keys()]
    assert len(set(kids)) == 6


def test_rotate_new_key_signs_old_key_still_verifies(keyring: Keyring, clock: FakeClock) -> None:
    old_kid, old_private = keyring.signing_key()
    clock.advance(100)
    info = keyring.rotate(retain_s=DAY_S)
    assert info.status == "active" and info.created_at == START + 100
    assert keyring.active_kid == info.kid != old_kid
    sign_and_check(keyring, info.kid)
    keyring.verification_key(old_kid).verify(old_private.sign(b"x"), b"x")
    by_kid = {k.kid: k for k in keyring.keys()}
    assert by_kid[old_kid].status == "retired"
    assert by_kid[old_kid].retired_at == START + 100
    assert [k.kid for k in keyring.keys()] == [old_kid, info.kid]


def test_rotate_prunes_retired_keys_after_retention(keyring: Keyring, keys_dir: Path, clock: FakeClock) -> None:
    first = keyring.active_kid
    keyring.rotate(retain_s=DAY_S)  # first retired at START
    clock.advance(DAY_S - 1)
    second = keyring.active_kid
    keyring.rotate(retain_s=DAY_S)  # first is 1 s short of its retention: kept
    assert first in {k.kid for k in keyring.keys()}
    clock.advance(1)
    keyring.rotate(retain_s=DAY_S)
    kids = {k.kid for k in keyring.keys()}
    assert first not in kids and second in kids
    assert not (keys_dir / f"{first}.pem").exists()
    with pytest.raises(AuthError) as err:
        keyring.verification_key(first)
    assert err.value.reason == "unknown_kid"


def test_reload_prunes_retired_keys_that_are_due(keyring: Keyring, keys_dir: Path, clock: FakeClock) -> None:
    first = keyring.active_kid
    keyring.rotate(retain_s=60)
    assert keyring.reload_if_changed() is False
    assert (keys_dir / f"{first}.pem").exists()
    clock.advance(60)
    assert keyring.reload_if_changed() is True
    assert first not in {k.kid for k in keyring.keys()}
    assert not (keys_dir / f"{first}.pem").exists()
    assert keyring.reload_if_changed() is False


def test_rotate_rejects_bad_retention(keyring: Keyring) -> None:
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            keyring.rotate(retain_s=bad)


def test_revoke_retired_key_rejects_its_tokens(keyring: Keyring, keys_dir: Path, clock: FakeClock) -> None:
    service = TokenService(keyring, "gw-test", clock)
    token, _ = service.issue("alice", "viewer", 3600)
    old = keyring.active_kid
    keyring.rotate(retain_s=DAY_S)
    assert service.verify(token).kid == old  # retired: still valid
    clock.advance(5)
    info = keyring.revoke(old)
    assert info.status == "revoked" and info.revoked_at == START + 5 and info.retired_at == START
    assert not (keys_dir / f"{old}.pem").exists()
    with pytest.raises(AuthError) as err:
        service.verify(token)
    assert err.value.reason == "revoked_key"
    with pytest.raises(AuthError) as err:
        keyring.verification_key(old)
    assert err.value.reason == "revoked_key"
    assert keyring.revoke(old) == info  # idempotent


def test_revoke_active_key_rotates_immediately(keyring: Keyring, keys_dir: Path, clock: FakeClock) -> None:
    service = TokenService(keyring, "gw-test", clock)
    token, _ = service.issue("alice", "admin", 3600)
    old = keyring.active_kid
    keyring.revoke(old)
    assert keyring.active_kid != old
    sign_and_check(keyring, keyring.active_kid)
    with pytest.raises(AuthError) as err:
        service.verify(token)
    assert err.value.reason == "revoked_key"
    fresh, _ = service.issue("alice", "admin", 3600)
    assert service.verify(fresh).kid == keyring.active_kid
    statuses = sorted(k.status for k in keyring.keys())
    assert statuses == ["active", "revoked"]
    with Keyring.open(keys_dir, clock) as reopened:  # persisted
        assert reopened.active_kid == keyring.active_kid
        with pytest.raises(AuthError):
            reopened.verification_key(old)


def test_revoke_unknown_kid(keyring: Keyring) -> None:
    with pytest.raises(UnknownKeyError):
        keyring.revoke("nope")
    with pytest.raises(KeyError):
        keyring.revoke("nope")
    with pytest.raises(KeyringError):
        keyring.revoke("nope")


def test_verification_key_unknown(keyring: Keyring) -> None:
    for kid in ("nope", "", "../keyring", keyring.active_kid + "x"):
        with pytest.raises(AuthError) as err:
            keyring.verification_key(kid)
        assert err.value.reason == "unknown_kid"


def test_rotated_keys_pruned_revoked_metadata_after_retention(keyring: Keyring, clock: FakeClock) -> None:
    old = keyring.active_kid
    keyring.revoke(old)
    clock.advance(DAY_S)
    keyring.rotate(retain_s=DAY_S)
    assert old not in {k.kid for k in keyring.keys()}


def test_reload_if_changed_picks_up_other_instance(keys_dir: Path, clock: FakeClock) -> None:
    with Keyring.open(keys_dir, clock) as server, Keyring.open(keys_dir, clock) as cli:
        assert server.reload_if_changed() is False
        first = server.active_kid
        new = cli.rotate(retain_s=DAY_S)
        assert server.active_kid == first  # not yet seen
        assert server.reload_if_changed() is True
        assert server.active_kid == new.kid
        assert server.keys() == cli.keys()
        assert server.reload_if_changed() is False
        # Two quick changes in a row are both noticed.
        third = cli.rotate(retain_s=DAY_S)
        assert server.reload_if_changed() is True
        fourth = cli.revoke(third.kid)
        assert server.reload_if_changed() is True
        assert server.active_kid not in (third.kid, new.kid) and fourth.status == "revoked"
        with pytest.raises(AuthError) as err:
            server.verification_key(third.kid)
        assert err.value.reason == "revoked_key"


def test_mutations_do_not_lose_each_others_changes(keys_dir: Path, clock: FakeClock) -> None:
    with Keyring.open(keys_dir, clock) as a, Keyring.open(keys_dir, clock) as b:
        a.rotate(retain_s=DAY_S)
        b.rotate(retain_s=DAY_S)  # b has not reloaded, but rotates from what is on disk
        kids = {k.kid for k in b.keys()}
        assert len(kids) == 3
        assert sum(k.status == "active" for k in b.keys()) == 1


def test_corrupt_keyring_json(keyring: Keyring, keys_dir: Path, clock: FakeClock) -> None:
    metadata = keys_dir / "keyring.json"
    good = metadata.read_text()
    doc = json.loads(good)
    bad_docs = [
        "{not json",
        "[]",
        json.dumps({"format": 99, "keys": doc["keys"]}),
        json.dumps({"format": 1, "keys": [{**doc["keys"][0], "status": "weird"}]}),
        json.dumps({"format": 1, "keys": [{**doc["keys"][0], "kid": "../../etc/passwd"}]}),
        json.dumps({"format": 1, "keys": [{**doc["keys"][0], "created_at": "yesterday"}]}),
        json.dumps({"format": 1, "keys": [doc["keys"][0], doc["keys"][0]]}),
        json.dumps({"format": 1, "keys": []}),  # no active key
        json.dumps({"format": 1, "keys": [{**doc["keys"][0], "kid": "missingfile"}]}),
    ]
    for text in bad_docs:
        metadata.write_text(text)
        with pytest.raises(KeyringError) as err:
            Keyring.open(keys_dir, clock)
        assert "keyring.json" in str(err.value) or "missingfile.pem" in str(err.value)
    metadata.write_text(good)
    with Keyring.open(keys_dir, clock) as reopened:
        assert reopened.active_kid == keyring.active_kid


def test_failed_reload_keeps_previous_keys(keyring: Keyring, keys_dir: Path) -> None:
    kid = keyring.active_kid
    (keys_dir / "keyring.json").write_text("garbage")
    with pytest.raises(KeyringError):
        keyring.reload_if_changed()
    assert keyring.active_kid == kid
    sign_and_check(keyring, kid)


@pytest.mark.parametrize("bad_mode", [0o640, 0o604, 0o644, 0o660])
def test_too_open_key_file(keyring: Keyring, keys_dir: Path, clock: FakeClock, bad_mode: int) -> None:
    pem = keys_dir / f"{keyring.active_kid}.pem"
    os.chmod(pem, bad_mode)
    with pytest.raises(KeyringError) as err:
        Keyring.open(keys_dir, clock)
    assert str(pem) in str(err.value)
    assert "too open" in str(err.value)
    os.chmod(pem, 0o600)
    Keyring.open(keys_dir, clock).close()


def test_too_open_keyring_json(keyring: Keyring, keys_dir: Path, clock: FakeClock) -> None:
    os.chmod(keys_dir / "keyring.json", 0o644)
    with pytest.raises(KeyringError, match="keyring.json"):
        Keyring.open(keys_dir, clock)


def test_group_writable_directory_refused(keyring: Keyring, keys_dir: Path, clock: FakeClock) -> None:
    os.chmod(keys_dir, 0o770)
    with pytest.raises(KeyringError, match="writable by other users"):
        Keyring.open(keys_dir, clock)


def test_symlinked_key_file_refused(keyring: Keyring, keys_dir: Path, clock: FakeClock, tmp_path: Path) -> None:
    pem = keys_dir / f"{keyring.active_kid}.pem"
    elsewhere = tmp_path / "elsewhere.pem"
    os.replace(pem, elsewhere)
    pem.symlink_to(elsewhere)
    with pytest.raises(KeyringError, match=r"\.pem"):
        Keyring.open(keys_dir, clock)


def test_wrong_key_type_refused(keyring: Keyring, keys_dir: Path, clock: FakeClock) -> None:
    pem = keys_dir / f"{keyring.active_kid}.pem"
    ec = generate_private_key(SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    pem.write_bytes(ec)
    with pytest.raises(KeyringError, match="not an Ed25519"):
        Keyring.open(keys_dir, clock)
    pem.write_bytes(b"-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n")
    with pytest.raises(KeyringError, match="PEM") as err:
        Keyring.open(keys_dir, clock)
    assert "garbage" not in str(err.value)


def test_key_material_never_in_error_messages(keyring: Keyring, keys_dir: Path, clock: FakeClock) -> None:
    pem_path = keys_dir / f"{keyring.active_kid}.pem"
    pem = pem_path.read_text()
    body = "".join(pem.splitlines()[1:-1])
    os.chmod(pem_path, 0o644)
    with pytest.raises(KeyringError) as err:
        Keyring.open(keys_dir, clock)
    assert body[:16] not in str(err.value)


def test_orphan_and_temporary_files_cleaned_on_change(keyring: Keyring, keys_dir: Path) -> None:
    orphan = keys_dir / "orphan123456.pem"
    orphan.write_bytes(b"x")
    temp = keys_dir / ".keyring.json.abcdef.tmp"
    temp.write_bytes(b"x")
    keyring.rotate(retain_s=DAY_S)
    assert not orphan.exists() and not temp.exists()
