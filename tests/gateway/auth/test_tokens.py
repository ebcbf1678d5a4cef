"""Tests of gateway.auth.tokens: issuing, and every reason a token is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1
from cryptography.hazmat.primitives.asymmetric.ec import generate_private_key as generate_ec_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key as generate_rsa_key

from gateway.auth.const import ROLES, TOKEN_LEEWAY_S, TOKEN_MAX_BYTES, TOKEN_MAX_TTL_S
from gateway.auth.errors import AUTH_REASONS, AuthError
from gateway.auth.keyring import Keyring
from gateway.auth.tokens import REQUIRED_CLAIMS, TokenClaims, TokenService
from tests.support.clock import FakeClock

GATEWAY_ID = "gw-line-3"
START = 1_700_000_000.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def keyring(tmp_path: Path, clock: FakeClock) -> Iterator[Keyring]:
    with Keyring.open(tmp_path / "keys", clock) as kr:
        yield kr


@pytest.fixture
def service(keyring: Keyring, clock: FakeClock) -> TokenService:
    return TokenService(keyring, GATEWAY_ID, clock)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], payload: dict[str, Any], sign: Any = None) -> str:
    """Build a compact JWS by hand; ``sign`` maps the signing input to signature bytes."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    signature = sign(signing_input.encode()) if sign else b""
    return f"{signing_input}.{b64url(signature)}"


def claims(clock: FakeClock, **overrides: Any) -> dict[str, Any]:
    now = int(clock())
    payload: dict[str, Any] = {
        "iss": GATEWAY_ID,
        "aud": GATEWAY_ID,
        "sub": "alice",
        "role": "technician",
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "jti": "jti-1234567890",
    }
    for name, value in overrides.items():
        if value is None:
            payload.pop(name, None)
        else:
            payload[name] = value
    return payload


def signed(keyring: Keyring, payload: dict[str, Any], **headers: Any) -> str:
    """A token signed with the keyring's real active key (so only the claims can be wrong)."""
    kid, key = keyring.signing_key()
    # Forged by hand rather than with jwt.encode: pyjwt refuses to *encode* some of the bad claims
    # (a list as iss) that a hostile client can still send.
    return forge({"alg": "EdDSA", "kid": kid, "typ": "JWT", **headers}, payload, key.sign)


def reason_of(service: TokenService, token: Any) -> str:
    with pytest.raises(AuthError) as err:
        service.verify(token)
    if isinstance(token, str) and len(token) > 20:
        assert token not in str(err.value) and token not in repr(err.value)
        for part in token.split("."):
            if len(part) > 8:
                assert part not in str(err.value)
    assert err.value.reason in AUTH_REASONS
    return err.value.reason


# --- issuing -------------------------------------------------------------------------------------
def test_round_trip(service: TokenService, keyring: Keyring, clock: FakeClock) -> None:
    token, issued = service.issue("alice", "technician", 3600)
    assert issued == TokenClaims(
        sub="alice",
        role="technician",
        jti=issued.jti,
        kid=keyring.active_kid,
        iat=int(START),
        nbf=int(START),
        exp=int(START) + 3600,
    )
    assert service.verify(token) == issued
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "EdDSA", "kid": keyring.active_kid, "typ": "JWT"}
    payload = jwt.decode(token, options={"verify_signature": False})
    assert payload["iss"] == payload["aud"] == GATEWAY_ID
    assert set(payload) == set(REQUIRED_CLAIMS)


@pytest.mark.parametrize("role", ROLES)
def test_every_role_round_trips(service: TokenService, role: str) -> None:
    token, _ = service.issue("svc", role, 60)
    assert service.verify(token).role == role


def test_jti_is_random_and_128_bits(service: TokenService) -> None:
    jtis = {service.issue("alice", "viewer", 60)[1].jti for _ in range(50)}
    assert len(jtis) == 50
    for jti in jtis:
        assert len(base64.urlsafe_b64decode(jti + "==")) == 16


@pytest.mark.parametrize(
    ("sub", "role", "ttl_s"),
    [
        ("", "viewer", 60),
        ("x" * 65, "viewer", 60),
        ("bad\nsub", "viewer", 60),
        ("bad\x00sub", "viewer", 60),
        (None, "viewer", 60),
        ("alice", "root", 60),
        ("alice", "", 60),
        ("alice", "Viewer", 60),
        ("alice", "viewer", 0),
        ("alice", "viewer", -5),
        ("alice", "viewer", TOKEN_MAX_TTL_S + 1),
        ("alice", "viewer", 1.5),
        ("alice", "viewer", True),
    ],
)
def test_issue_validates_input(service: TokenService, sub: Any, role: Any, ttl_s: Any) -> None:
    with pytest.raises(ValueError):
        service.issue(sub, role, ttl_s)


def test_issue_boundaries(keyring: Keyring, clock: FakeClock) -> None:
    service = TokenService(keyring, GATEWAY_ID, clock, max_ttl_s=600)
    service.issue("x" * 64, "viewer", 1)
    service.issue("Ünïcode user", "viewer", 600)
    with pytest.raises(ValueError, match="600"):
        service.issue("alice", "viewer", 601)


def test_constructor_validation(keyring: Keyring, clock: FakeClock) -> None:
    with pytest.raises(ValueError):
        TokenService(keyring, "", clock)
    with pytest.raises(ValueError):
        TokenService(keyring, GATEWAY_ID, clock, leeway_s=-1)
    with pytest.raises(ValueError):
        TokenService(keyring, GATEWAY_ID, clock, max_ttl_s=0)


# --- malformed -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "a.b",
        "a.b.c.d",
        "!!!.@@@.###",
        "eyJhbGciOiJFZERTQSJ9",
        "eyJhbGciOiJFZERTQSJ9.e30",
        "...",
        "bm90IGpzb24.e30.c2ln",  # header is not JSON
        "W10.e30.c2ln",  # header is a JSON list
        "tökén.with.ümlauts",
    ],
)
def test_malformed_strings(service: TokenService, token: str) -> None:
    assert reason_of(service, token) == "malformed"


def test_missing_token(service: TokenService) -> None:
    assert reason_of(service, "") == "missing"
    assert reason_of(service, None) == "missing"


def test_huge_token_is_malformed_without_parsing(service: TokenService, monkeypatch: pytest.MonkeyPatch) -> None:
    good, _ = service.issue("alice", "viewer", 60)
    huge = good + "A" * TOKEN_MAX_BYTES

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("parsed a huge token")

    monkeypatch.setattr(jwt, "get_unverified_header", fail)
    monkeypatch.setattr(jwt, "decode", fail)
    assert reason_of(service, huge) == "malformed"


def test_payload_not_json_is_malformed(keyring: Keyring, service: TokenService) -> None:
    kid, key = keyring.signing_key()
    header = b64url(json.dumps({"alg": "EdDSA", "kid": kid}).encode())
    body = b64url(b"not json")
    signing_input = f"{header}.{body}".encode()
    token = f"{header}.{body}.{b64url(key.sign(signing_input))}"
    assert reason_of(service, token) == "malformed"


def test_tampered_payload_is_bad_signature(service: TokenService) -> None:
    token, _ = service.issue("alice", "viewer", 60)
    header, _, signature = token.split(".")
    payload = b64url(json.dumps(claims(FakeClock(), role="admin")).encode())
    assert reason_of(service, f"{header}.{payload}.{signature}") == "bad_signature"


# --- signature and algorithm ---------------------------------------------------------------------
def test_signed_by_another_key_with_same_kid(keyring: Keyring, service: TokenService, clock: FakeClock) -> None:
    other = Ed25519PrivateKey.generate()
    token = jwt.encode(claims(clock), other, algorithm="EdDSA", headers={"kid": keyring.active_kid})
    assert reason_of(service, token) == "bad_signature"


def test_truncated_signature(service: TokenService) -> None:
    token, _ = service.issue("alice", "viewer", 60)
    assert reason_of(service, token[:-10]) in ("bad_signature", "malformed")


def test_alg_none(keyring: Keyring, service: TokenService, clock: FakeClock) -> None:
    for alg in ("none", "None", "NONE"):
        token = forge({"alg": alg, "typ": "JWT", "kid": keyring.active_kid}, claims(clock))
        assert reason_of(service, token) == "bad_alg"
    assert reason_of(service, forge({"typ": "JWT", "kid": keyring.active_kid}, claims(clock))) == "bad_alg"


def test_hs256_with_public_key_as_secret(keyring: Keyring, service: TokenService, clock: FakeClock) -> None:
    public = keyring.verification_key(keyring.active_kid)
    secrets_to_try = [
        public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw),
        public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH),
    ]
    for secret in secrets_to_try:
        for alg, digest in (("HS256", hashlib.sha256), ("HS512", hashlib.sha512)):
            token = forge(
                {"alg": alg, "typ": "JWT", "kid": keyring.active_kid},
                claims(clock),
                lambda data, s=secret, d=digest: hmac.new(s, data, d).digest(),
            )
            assert reason_of(service, token) == "bad_alg"


def test_hs256_with_eddsa_header_claim_fails(keyring: Keyring, service: TokenService, clock: FakeClock) -> None:
    """An HMAC signature under an EdDSA header is just a bad signature."""
    public = keyring.verification_key(keyring.active_kid)
    secret = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    token = forge(
        {"alg": "EdDSA", "kid": keyring.active_kid},
        claims(clock),
        lambda data: hmac.new(secret, data, hashlib.sha256).digest(),
    )
    assert reason_of(service, token) in ("bad_signature", "malformed")


def test_rs256_and_es256_rejected(keyring: Keyring, service: TokenService, clock: FakeClock) -> None:
    rsa = generate_rsa_key(public_exponent=65537, key_size=2048)
    ec = generate_ec_key(SECP256R1())
    for alg, key in (("RS256", rsa), ("PS256", rsa), ("ES256", ec)):
        token = jwt.encode(claims(clock), key, algorithm=alg, headers={"kid": keyring.active_kid})
        assert reason_of(service, token) == "bad_alg"


def test_unsupported_header_parameters(keyring: Keyring, service: TokenService, clock: FakeClock) -> None:
    token = signed(keyring, claims(clock), jku="https://attacker.example/keys")
    assert reason_of(service, token) == "malformed"
    kid, key = keyring.signing_key()
    header = {"alg": "EdDSA", "kid": kid, "crit": ["exp"]}
    token = forge(header, claims(clock), key.sign)
    assert reason_of(service, token) == "malformed"


# --- kid -----------------------------------------------------------------------------------------
def test_unknown_kid(keyring: Keyring, service: TokenService, clock: FakeClock) -> None:
    _, key = keyring.signing_key()
    token = jwt.encode(claims(clock), key, algorithm="EdDSA", headers={"kid": "someone-else"})
    assert reason_of(service, token) == "unknown_kid"


def test_missing_or_bad_kid_header(keyring: Keyring, service: TokenService, clock: FakeClock) -> None:
    _, key = keyring.signing_key()
    assert reason_of(service, jwt.encode(claims(clock), key, algorithm="EdDSA")) == "malformed"
    for kid in (123, None, ["x"], ""):
        token = forge({"alg": "EdDSA", "kid": kid}, claims(clock), key.sign)
        assert reason_of(service, token) == "malformed"


def test_retired_key_token_still_valid(keyring: Keyring, service: TokenService) -> None:
    token, issued = service.issue("alice", "viewer", 3600)
    keyring.rotate(retain_s=TOKEN_MAX_TTL_S)
    assert keyring.active_kid != issued.kid
    assert service.verify(token) == issued
    fresh, fresh_claims = service.issue("bob", "viewer", 60)
    assert fresh_claims.kid == keyring.active_kid
    assert service.verify(fresh) == fresh_claims


def test_revoked_key_token_rejected(keyring: Keyring, service: TokenService) -> None:
    token, issued = service.issue("alice", "viewer", 3600)
    keyring.rotate(retain_s=TOKEN_MAX_TTL_S)
    keyring.revoke(issued.kid)
    assert reason_of(service, token) == "revoked_key"


def test_pruned_key_token_rejected(keyring: Keyring, service: TokenService, clock: FakeClock) -> None:
    token, _ = service.issue("alice", "viewer", 3600)
    keyring.rotate(retain_s=3600)
    clock.advance(3600)
    keyring.reload_if_changed()
    assert reason_of(service, token) == "unknown_kid"


# --- time ----------------------------------------------------------------------------------------
def test_expired(service: TokenService, clock: FakeClock) -> None:
    token, issued = service.issue("alice", "viewer", 600)
    clock.advance(600 + TOKEN_LEEWAY_S - 1)
    assert service.verify(token) == issued  # within leeway
    clock.advance(1)
    assert reason_of(service, token) == "expired"
    clock.advance(10 * 86_400)
    assert reason_of(service, token) == "expired"


def test_not_yet_valid(keyring: Keyring, service: TokenService, clock: FakeClock) -> None:
    now = int(clock())
    future = claims(clock, nbf=now + TOKEN_LEEWAY_S + 1, iat=now, exp=now + 3600)
    assert reason_of(service, signed(keyring, future)) == "not_yet_valid"
    within = claims(clock, nbf=now + TOKEN_LEEWAY_S, iat=now, exp=now + 3600)
    assert service.verify(signed(keyring, within)).nbf == now + TOKEN_LEEWAY_S
    clock.advance(2)
    assert service.verify(signed(keyring, future)).sub == "alice"


def test_issued_in_the_future(keyring: Keyring, service: TokenService, clock: FakeClock) -> None:
    now = int(clock())
    token = signed(keyring, claims(clock, iat=now + 3600, nbf=now, exp=now + 7200))
    assert reason_of(service, token) == "not_yet_valid"


def test_clock_behind_issuer_within_leeway(keyring: Keyring, clock: FakeClock) -> None:
    issuer = TokenService(keyring, GATEWAY_ID, clock)
    token, _ = issuer.issue("alice", "viewer", 60)
    verifier = TokenService(keyring, GATEWAY_ID, FakeClock(START - TOKEN_LEEWAY_S + 1))
    assert verifier.verify(token).sub == "alice"
    strict = TokenService(keyring, GATEWAY_ID, FakeClock(START - 1), leeway_s=0)
    assert reason_of(strict, token) == "not_yet_valid"


def test_time_uses_injected_clock_not_system_clock(keyring: Keyring) -> None:
    """A token far in the past (by the system clock) is valid when the injected clock says so."""
    past = FakeClock(1_000_000.0)
    service = TokenService(keyring, GATEWAY_ID, past)
    token, issued = service.issue("alice", "viewer", 60)
    assert service.verify(token) == issued


@pytest.mark.parametrize("field", ["iat", "nbf", "exp"])
@pytest.mark.parametrize("value", ["1700000000", 1.7e9, True, [1]])
def test_non_integer_times_refused(
    keyring: Keyring, service: TokenService, clock: FakeClock, field: str, value: Any
) -> None:
    assert reason_of(service, signed(keyring, claims(clock, **{field: value}))) == "malformed"


# --- audience, issuer, claims --------------------------------------------------------------------
def test_wrong_audience(keyring: Keyring, service: TokenService, clock: FakeClock) -> None:
    for aud in ("gw-other", [GATEWAY_ID, "gw-other"], [GATEWAY_ID], ""):
        assert reason_of(service, signed(keyring, claims(clock, aud=aud))) == "bad_audience"


def test_wrong_issuer(keyring: Keyring, service: TokenService, clock: FakeClock) -> None:
    for iss in ("gw-other", [GATEWAY_ID], GATEWAY_ID.upper()):
        assert reason_of(service, signed(keyring, claims(clock, iss=iss))) == "bad_issuer"


def test_token_of_another_gateway(keyring: Keyring, clock: FakeClock) -> None:
    other = TokenService(keyring, "gw-other", clock)
    token, _ = other.issue("alice", "admin", 60)
    assert reason_of(TokenService(keyring, GATEWAY_ID, clock), token) == "bad_audience"


@pytest.mark.parametrize("claim", REQUIRED_CLAIMS)
def test_each_required_claim_missing(keyring: Keyring, service: TokenService, clock: FakeClock, claim: str) -> None:
    token = signed(keyring, claims(clock, **{claim: None}))
    with pytest.raises(AuthError) as err:
        service.verify(token)
    assert err.value.reason == "missing_claim"
    assert claim in str(err.value)


@pytest.mark.parametrize("role", ["root", "", "ADMIN", 3, ["admin"]])
def test_bad_role(keyring: Keyring, service: TokenService, clock: FakeClock, role: Any) -> None:
    assert reason_of(service, signed(keyring, claims(clock, role=role))) == "bad_role"


@pytest.mark.parametrize(("field", "value"), [("sub", 5), ("sub", ""), ("jti", 7), ("jti", "")])
def test_bad_sub_or_jti(keyring: Keyring, service: TokenService, clock: FakeClock, field: str, value: Any) -> None:
    assert reason_of(service, signed(keyring, claims(clock, **{field: value}))) == "malformed"


def test_extra_claims_are_ignored(keyring: Keyring, service: TokenService, clock: FakeClock) -> None:
    claims_out = service.verify(signed(keyring, claims(clock, scope="everything")))
    assert claims_out.role == "technician"


def test_auth_error_messages_are_safe() -> None:
    for reason in AUTH_REASONS:
        err = AuthError(reason)  # type: ignore[arg-type]
        assert err.reason == reason and str(err)
    with pytest.raises(ValueError):
        AuthError("bogus")  # type: ignore[arg-type]
