"""Exceptions of the authentication package.

Messages are safe to return to a client and to log: they never contain a token, a key or any part
of either. The machine-readable cause of an authentication failure is ``AuthError.reason``.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

AuthReason = Literal[
    "missing",
    "malformed",
    "bad_alg",
    "bad_signature",
    "unknown_kid",
    "revoked_key",
    "expired",
    "not_yet_valid",
    "bad_audience",
    "bad_issuer",
    "missing_claim",
    "bad_role",
    "revoked",
]
"""Why a bearer token was refused."""

AUTH_REASONS: Final[tuple[str, ...]] = get_args(AuthReason)
"""Every value ``AuthError.reason`` can take."""

_DEFAULT_MESSAGES: Final[dict[str, str]] = {
    "missing": "no bearer token was presented",
    "malformed": "the bearer token is malformed",
    "bad_alg": "the token's signing algorithm is not accepted",
    "bad_signature": "the token's signature is invalid",
    "unknown_kid": "the token was signed with an unknown key",
    "revoked_key": "the token was signed with a revoked key",
    "expired": "the token has expired",
    "not_yet_valid": "the token is not valid yet",
    "bad_audience": "the token was not issued for this gateway (audience)",
    "bad_issuer": "the token was not issued by this gateway (issuer)",
    "missing_claim": "the token lacks a required claim",
    "bad_role": "the token carries an unknown role",
    "revoked": "the token has been revoked",
}


class AuthError(Exception):
    """A bearer token was refused; the HTTP layer answers 401.

    ``reason`` is one of ``AUTH_REASONS``; ``message`` is a human explanation that never contains
    the token.
    """

    reason: AuthReason
    message: str

    def __init__(self, reason: AuthReason, message: str | None = None) -> None:
        """Create the error; ``message`` defaults to a fixed text for ``reason``."""
        if reason not in _DEFAULT_MESSAGES:
            raise ValueError(f"unknown authentication failure reason {reason!r}")
        self.reason = reason
        self.message = message if message is not None else _DEFAULT_MESSAGES[reason]
        super().__init__(self.message)

    def __repr__(self) -> str:
        """Show the reason and message (never a token)."""
        return f"AuthError(reason={self.reason!r}, message={self.message!r})"


class KeyringError(Exception):
    """The signing-key directory is missing, corrupt, unreadable or has unsafe permissions.

    The message names the offending file but never includes key material.
    """
