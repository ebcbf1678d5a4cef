"""A token verified once skips the signature check on repeats, but never the key status or the clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from gateway.auth.const import TOKEN_LEEWAY_S, TOKEN_MAX_TTL_S
from gateway.auth.errors import AuthError
from gateway.auth.keyring import Keyring
from gateway.auth.tokens import TokenService
from gateway.auth.verified_cache import VerifiedToken, VerifiedTokenCache
from tests.support.clock import FakeClock

GATEWAY_ID = "gw-cache-1"


class CountingDecode:
    """Wraps pyjwt's decode to count full verifications (signature checks)."""

    def __init__(self) -> None:
        self.calls = 0
        self._real = jwt.decode

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self._real(*args, **kwargs)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def keyring(tmp_path: Path, clock: FakeClock) -> Iterator[Keyring]:
    with Keyring.open(tmp_path / "keys", clock) as kr:
        yield kr


@pytest.fixture
def decode(monkeypatch: pytest.MonkeyPatch) -> CountingDecode:
    counting = CountingDecode()
    monkeypatch.setattr(jwt, "decode", counting)
    return counting


def reason(service: TokenService, token: str) -> str:
    with pytest.raises(AuthError) as err:
        service.verify(token)
    return err.value.reason


def test_repeat_skips_the_signature_check(keyring: Keyring, clock: FakeClock, decode: CountingDecode) -> None:
    service = TokenService(keyring, GATEWAY_ID, clock)
    token, issued = service.issue("alice", "viewer", 600)
    for _ in range(5):
        assert service.verify(token) == issued
    assert decode.calls == 1


def test_cached_token_still_expires(keyring: Keyring, clock: FakeClock, decode: CountingDecode) -> None:
    service = TokenService(keyring, GATEWAY_ID, clock)
    token, issued = service.issue("alice", "viewer", 600)
    assert service.verify(token) == issued
    clock.now += 600 + TOKEN_LEEWAY_S
    assert reason(service, token) == "expired"
    assert decode.calls == 1  # refused from the cache entry, by the clock


def test_cached_token_of_a_revoked_key_is_refused(keyring: Keyring, clock: FakeClock, decode: CountingDecode) -> None:
    service = TokenService(keyring, GATEWAY_ID, clock)
    token, issued = service.issue("alice", "viewer", 600)
    assert service.verify(token) == issued
    keyring.revoke(issued.kid)
    assert reason(service, token) == "revoked_key"


def test_cached_token_of_a_pruned_key_is_refused(keyring: Keyring, clock: FakeClock) -> None:
    service = TokenService(keyring, GATEWAY_ID, clock)
    token, issued = service.issue("alice", "viewer", 600)
    assert service.verify(token) == issued
    keyring.rotate(retain_s=600)
    clock.now += 600
    keyring.reload_if_changed()
    assert reason(service, token) == "unknown_kid"


def test_keyring_reload_forces_a_full_verification(keyring: Keyring, clock: FakeClock, decode: CountingDecode) -> None:
    service = TokenService(keyring, GATEWAY_ID, clock)
    token, issued = service.issue("alice", "viewer", 600)
    assert service.verify(token) == issued
    keyring.rotate(retain_s=TOKEN_MAX_TTL_S)  # reloads: new key objects, also for the retired key
    assert service.verify(token) == issued  # a retired key still verifies its tokens...
    assert decode.calls == 2  # ...after checking the signature again with the reloaded key


def test_failures_are_not_cached(keyring: Keyring, clock: FakeClock, decode: CountingDecode) -> None:
    service = TokenService(keyring, GATEWAY_ID, clock)
    token, _ = service.issue("alice", "viewer", 600)
    header, payload, signature = token.split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}AAAA"
    assert reason(service, tampered) == "bad_signature"
    assert reason(service, tampered) == "bad_signature"
    assert decode.calls == 2


def test_cache_is_bounded_oldest_first(keyring: Keyring, clock: FakeClock, decode: CountingDecode) -> None:
    service = TokenService(keyring, GATEWAY_ID, clock, verified_cache_entries=2)
    tokens = [service.issue(f"user{n}", "viewer", 600)[0] for n in range(3)]
    for token in tokens:
        service.verify(token)
    assert decode.calls == 3
    service.verify(tokens[2])
    service.verify(tokens[1])
    assert decode.calls == 3  # still cached
    service.verify(tokens[0])
    assert decode.calls == 4  # was dropped when the third arrived


def test_cache_refuses_a_zero_bound() -> None:
    with pytest.raises(ValueError):
        VerifiedTokenCache(0)


def test_cache_put_get_discard(keyring: Keyring, clock: FakeClock) -> None:
    service = TokenService(keyring, GATEWAY_ID, clock)
    _, claims = service.issue("alice", "viewer", 600)
    cache = VerifiedTokenCache(4)
    entry = VerifiedToken(claims, keyring.verification_key(claims.kid))
    cache.put("t", entry)
    assert cache.get("t") is entry and len(cache) == 1
    cache.discard("t")
    assert cache.get("t") is None and len(cache) == 0
