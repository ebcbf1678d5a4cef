"""Remembering tokens whose signature and fixed claims were already verified.

Checking an EdDSA signature and parsing the JWS costs far more than the rest of a request to a small
route, and clients (the dashboard, the cloud connector) send the same token again and again. The
cache maps the exact token text to its verified claims and the public key object that verified it.
A hit is still only half a verification: the caller checks that the same key object is still the
keyring's key for that ``kid`` (a revoked key, or any keyring reload, makes the hit a miss) and checks
the validity period against its clock, and revocation by ``jti`` is checked on every request as before.
Only successful verifications are stored; memory is bounded (oldest entry dropped first).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

if TYPE_CHECKING:
    from gateway.auth.tokens import TokenClaims

__all__ = ["VerifiedToken", "VerifiedTokenCache"]


@dataclass(frozen=True)
class VerifiedToken:
    """Claims of a token whose signature ``key`` verified, with aud/iss/types/role checked."""

    claims: TokenClaims
    key: Ed25519PublicKey


class VerifiedTokenCache:
    """A bounded map from token text to ``VerifiedToken`` (insertion order; the oldest goes first)."""

    def __init__(self, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        self._max_entries = max_entries
        self._entries: dict[str, VerifiedToken] = {}

    def get(self, token: str) -> VerifiedToken | None:
        return self._entries.get(token)

    def put(self, token: str, verified: VerifiedToken) -> None:
        if token not in self._entries and len(self._entries) >= self._max_entries:
            del self._entries[next(iter(self._entries))]
        self._entries[token] = verified

    def discard(self, token: str) -> None:
        self._entries.pop(token, None)

    def __len__(self) -> int:
        return len(self._entries)
