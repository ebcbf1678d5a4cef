"""Forged and malformed tokens for the authentication tests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.factory import Gateway


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(gateway: Gateway, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": gateway.config.gateway.id, "aud": gateway.config.gateway.id, "sub": "forger", "role": "admin",
        "iat": now, "nbf": now, "exp": now + 600, "jti": uuid.uuid4().hex,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def signed(gateway: Gateway, *, headers: dict[str, Any] | None = None, key: Any = None, **overrides: Any) -> str:
    """A token signed with the gateway's own active key (or `key`), with claims changed as asked."""
    kid, private = gateway.context.keyring.signing_key()
    return jwt.encode(
        claims(gateway, **overrides), key or private, algorithm="EdDSA", headers={"kid": kid, **(headers or {})}
    )


def unsigned_alg_none(gateway: Gateway) -> str:
    kid, _ = gateway.context.keyring.signing_key()
    header = b64url(json.dumps({"alg": "none", "typ": "JWT", "kid": kid}).encode())
    payload = b64url(json.dumps(claims(gateway)).encode())
    return f"{header}.{payload}."


def hs256_with_public_key(gateway: Gateway, *, pem: bool = True) -> str:
    """The classic key-confusion attack: HMAC-SHA256 keyed with the server's public key."""
    kid, private = gateway.context.keyring.signing_key()
    public = private.public_key()
    secret = (
        public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        if pem
        else public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    payload = b64url(json.dumps(claims(gateway)).encode())
    signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(signature)}"


def other_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()
