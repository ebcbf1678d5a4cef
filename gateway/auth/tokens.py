"""Bearer tokens of the local API: EdDSA-signed JWTs issued and verified by the gateway itself.

A token's header is ``{"alg": "EdDSA", "kid": <key id>, "typ": "JWT"}``; its claims are ``iss`` and
``aud`` (both the gateway id), ``sub``, ``role``, ``iat``, ``nbf``, ``exp`` and ``jti``. Verification
pins the algorithm to EdDSA, resolves the key only through the keyring by ``kid``, requires every
claim and checks times against the injected clock with a leeway. Revocation of single tokens by
``jti`` is the caller's business (a persistent revocation set), not this module's.

A token verified once is remembered by its exact text (``VerifiedTokenCache``): a repeat skips the JWS
parsing and the signature check, never the key's status nor the validity period.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Any, Final

import jwt

from gateway.auth.const import (
    ROLES,
    TOKEN_ALGORITHM,
    TOKEN_JTI_BYTES,
    TOKEN_LEEWAY_S,
    TOKEN_MAX_BYTES,
    TOKEN_MAX_TTL_S,
    TOKEN_SUB_MAX_CHARS,
    VERIFIED_TOKEN_CACHE_ENTRIES,
    Clock,
)
from gateway.auth.errors import AuthError
from gateway.auth.keyring import Keyring
from gateway.auth.verified_cache import VerifiedToken, VerifiedTokenCache

__all__ = ["REQUIRED_CLAIMS", "TokenClaims", "TokenService"]

REQUIRED_CLAIMS: Final[tuple[str, ...]] = ("iss", "aud", "sub", "role", "iat", "nbf", "exp", "jti")
"""Claims every token must carry."""

_UNSUPPORTED_HEADERS: Final = frozenset({"crit", "b64", "jku", "jwk", "x5u", "x5c"})
"""Header parameters the gateway never issues; a token carrying one is malformed."""


@dataclass(frozen=True)
class TokenClaims:
    """The verified (or just issued) claims of a token, plus the id of the key that signed it."""

    sub: str
    role: str
    jti: str
    kid: str
    iat: int
    nbf: int
    exp: int


class TokenService:
    """Issues and verifies the gateway's bearer tokens with the keys of a ``Keyring``."""

    def __init__(
        self,
        keyring: Keyring,
        gateway_id: str,
        clock: Clock,
        leeway_s: float = TOKEN_LEEWAY_S,
        max_ttl_s: int = TOKEN_MAX_TTL_S,
        verified_cache_entries: int = VERIFIED_TOKEN_CACHE_ENTRIES,
    ) -> None:
        """``clock`` is a wall clock (seconds since the epoch); ``gateway_id`` becomes ``iss`` and ``aud``."""
        if not isinstance(gateway_id, str) or not gateway_id:
            raise ValueError("gateway_id must be a non-empty string")
        if leeway_s < 0:
            raise ValueError("leeway_s must be >= 0")
        if max_ttl_s < 1:
            raise ValueError("max_ttl_s must be >= 1")
        self._keyring = keyring
        self._gateway_id = gateway_id
        self._clock = clock
        self._leeway_s = leeway_s
        self._max_ttl_s = max_ttl_s
        self._verified = VerifiedTokenCache(verified_cache_entries)

    def issue(self, sub: str, role: str, ttl_s: int) -> tuple[str, TokenClaims]:
        """Sign a new token for ``sub`` with ``role`` valid for ``ttl_s`` seconds from now.

        Raises ``ValueError`` if ``sub`` is empty, longer than ``TOKEN_SUB_MAX_CHARS`` or not
        printable, if ``role`` is not one of ``ROLES``, or if ``ttl_s`` is outside 1..max_ttl_s.
        Returns the encoded token (show it once, never log it) and its claims.
        """
        if not isinstance(sub, str) or not sub or len(sub) > TOKEN_SUB_MAX_CHARS or not sub.isprintable():
            raise ValueError(f"sub must be 1 to {TOKEN_SUB_MAX_CHARS} printable characters")
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        if isinstance(ttl_s, bool) or not isinstance(ttl_s, int) or not 1 <= ttl_s <= self._max_ttl_s:
            raise ValueError(f"ttl_s must be a whole number of seconds from 1 to {self._max_ttl_s}")
        kid, key = self._keyring.signing_key()
        iat = int(self._clock())
        claims = TokenClaims(
            sub=sub,
            role=role,
            jti=secrets.token_urlsafe(TOKEN_JTI_BYTES),
            kid=kid,
            iat=iat,
            nbf=iat,
            exp=iat + ttl_s,
        )
        payload = {
            "iss": self._gateway_id,
            "aud": self._gateway_id,
            "sub": claims.sub,
            "role": claims.role,
            "iat": claims.iat,
            "nbf": claims.nbf,
            "exp": claims.exp,
            "jti": claims.jti,
        }
        token = jwt.encode(payload, key, algorithm=TOKEN_ALGORITHM, headers={"kid": kid, "typ": "JWT"})
        return token, claims

    def verify(self, token: str) -> TokenClaims:
        """Check a bearer token and return its claims; raises ``AuthError`` with the reason otherwise.

        Does not consult the per-token revocation set.
        """
        if not isinstance(token, str) or not token:
            raise AuthError("missing")
        if len(token) > TOKEN_MAX_BYTES or not token.isascii() or token.count(".") != 2:
            raise AuthError("malformed")
        known = self._verified.get(token)
        if known is not None:
            key = self._keyring.verification_key(known.claims.kid)  # AuthError unknown_kid / revoked_key
            if key is known.key:
                self._check_times(known.claims)
                return known.claims
            self._verified.discard(token)  # the keyring was reloaded: verify from scratch
        kid = self._header_kid(token)
        key = self._keyring.verification_key(kid)  # AuthError unknown_kid / revoked_key
        payload = self._decode(token, key)
        claims = self._check_claims(payload, kid)
        self._verified.put(token, VerifiedToken(claims, key))
        return claims

    # --- steps of verify ---------------------------------------------------------------------------
    @staticmethod
    def _header_kid(token: str) -> str:
        """The ``kid`` of an EdDSA token header; nothing else in the header is trusted."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise AuthError("malformed") from None
        if header.get("alg") != TOKEN_ALGORITHM:
            raise AuthError("bad_alg")
        if _UNSUPPORTED_HEADERS.intersection(header):
            raise AuthError("malformed", "the token uses an unsupported header parameter")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthError("malformed", "the token header lacks a key id (kid)")
        return kid

    def _decode(self, token: str, key: Any) -> dict[str, Any]:
        """Verify the signature, required claims, audience and issuer (times are checked later)."""
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[TOKEN_ALGORITHM],
                options={
                    "require": list(REQUIRED_CLAIMS),
                    # aud and iss are compared below, exactly and in a fixed order, whatever pyjwt's version
                    "verify_aud": False,
                    "verify_iss": False,
                    "verify_exp": False,  # pyjwt reads the system clock; checked below with ours
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidSignatureError:
            raise AuthError("bad_signature") from None
        except jwt.InvalidAlgorithmError:
            raise AuthError("bad_alg") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError("missing_claim", f"the token lacks the required claim {exc.claim!r}") from None
        except (jwt.InvalidTokenError, jwt.InvalidKeyError):
            raise AuthError("malformed") from None

    def _check_claims(self, payload: dict[str, Any], kid: str) -> TokenClaims:
        """Audience, issuer, types, role and validity period of signed claims, against the injected clock."""
        if not _is_exactly(payload["aud"], self._gateway_id):
            raise AuthError("bad_audience")
        if not _is_exactly(payload["iss"], self._gateway_id):
            raise AuthError("bad_issuer")
        sub, role, jti = payload["sub"], payload["role"], payload["jti"]
        iat, nbf, exp = payload["iat"], payload["nbf"], payload["exp"]
        if not all(isinstance(v, str) and v for v in (sub, jti)):
            raise AuthError("malformed", "the token's sub and jti must be non-empty strings")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (iat, nbf, exp)):
            raise AuthError("malformed", "the token's iat, nbf and exp must be integers")
        if not isinstance(role, str) or role not in ROLES:
            raise AuthError("bad_role")
        claims = TokenClaims(sub=sub, role=role, jti=jti, kid=kid, iat=iat, nbf=nbf, exp=exp)
        self._check_times(claims)
        return claims

    def _check_times(self, claims: TokenClaims) -> None:
        """The validity period against the injected clock, with the leeway."""
        now = self._clock()
        if now >= claims.exp + self._leeway_s:
            raise AuthError("expired")
        if claims.nbf > now + self._leeway_s or claims.iat > now + self._leeway_s:
            raise AuthError("not_yet_valid")


def _is_exactly(value: Any, expected: str) -> bool:
    """A claim equal to ``expected`` as a plain string (a list audience is not accepted)."""
    return isinstance(value, str) and hmac.compare_digest(value.encode(), expected.encode())
