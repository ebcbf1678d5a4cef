"""Turn an ``AuditEvent`` into what is stored: checked for secrets, size-capped, canonical. Pure.

Secrets must never reach the audit log, not even by accident, so ``prepare_event`` raises
``ValueError`` (naming the offending key, never the value) when:

* a ``details`` key, at any depth, is named like a secret. Keys are split into words (``_``, ``-``,
  ``.``, spaces and camelCase), and a key is refused if a word is one of ``SECRET_KEY_WORDS`` (token,
  password, secret, key, credential, cookie, authorization ...), ends in one of
  ``SECRET_KEY_SUFFIXES`` (``accesstoken``, ``apikey`` ...) or the words contain ``access_code``.
  So ``api_key``, ``accessToken``, ``client-secret``, ``key_id`` and ``tokens`` are refused; use
  ``kid`` for a key id and ``jti`` for a token id.
* a string, anywhere in ``details`` or in a text field, looks like a bearer token or a JWT.

``details`` larger than ``AUDIT_DETAILS_MAX_BYTES`` of canonical JSON are replaced by a marker
``{"_truncated": true, "original_bytes": N, "preview": "<start of the JSON>"}``. Text fields longer
than ``AUDIT_TEXT_MAX_CHARS`` are cut and end in ``…``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from gateway.audit.chain import canonical_json
from gateway.audit.const import (
    AUDIT_DETAILS_MAX_BYTES,
    AUDIT_DETAILS_MAX_DEPTH,
    AUDIT_DETAILS_PREVIEW_BYTES,
    AUDIT_TEXT_MAX_CHARS,
    TEXT_CUT_SUFFIX,
    TRUNCATION_MARKER_KEY,
)
from gateway.audit.model import AuditEvent

SECRET_KEY_WORDS: Final = frozenset({
    "token", "tokens", "password", "passwords", "passwd", "pwd", "passphrase", "secret", "secrets",
    "key", "keys", "apikey", "privatekey", "credential", "credentials", "authorization", "cookie",
    "cookies", "bearer", "jwt", "accesscode",
})
"""Words that make a ``details`` key refused."""

SECRET_KEY_SUFFIXES: Final[tuple[str, ...]] = ("token", "password", "passwd", "secret", "apikey", "privatekey")
"""A word ending in one of these (``accesstoken``, ``clientsecret``) is refused too."""

SECRET_KEY_PHRASE: Final = "access_code"
"""Refused when the key's words, joined by ``_``, contain it (``printer_access_code``)."""

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_WORD_SEPARATORS = re.compile(r"[^a-z0-9]+")
_TOKEN_LIKE = re.compile(r"eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.|\bbearer\s+\S", re.IGNORECASE)

JsonValue = Any
"""A plain JSON value: dict with str keys, list, str, int, float, bool or None."""


@dataclass(frozen=True)
class PreparedEvent:
    """An event ready to insert: text fields cut to size, details as canonical JSON text."""

    action: str
    outcome: str
    actor: str | None
    jti: str | None
    client: str | None
    target: str | None
    details_json: str


def is_secret_key(key: str) -> bool:
    """Whether a details key is named like a secret (see the module docstring)."""
    words = [w for w in _WORD_SEPARATORS.split(_CAMEL_BOUNDARY.sub("_", key).lower()) if w]
    if SECRET_KEY_PHRASE in "_".join(words):
        return True
    return any(w in SECRET_KEY_WORDS or w.endswith(SECRET_KEY_SUFFIXES) for w in words)


def looks_like_token(text: str) -> bool:
    """Whether a string looks like a JWT or a ``Bearer ...`` credential."""
    return _TOKEN_LIKE.search(text) is not None


def clip_text(value: str | None, field_name: str) -> str | None:
    """``value`` cut to ``AUDIT_TEXT_MAX_CHARS``; refuses a token-looking value."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"audit field {field_name} must be a string or None")
    if looks_like_token(value):
        raise ValueError(f"audit field {field_name} looks like a token; refusing to store it")
    if len(value) <= AUDIT_TEXT_MAX_CHARS:
        return value
    return value[: AUDIT_TEXT_MAX_CHARS - len(TEXT_CUT_SUFFIX)] + TEXT_CUT_SUFFIX


def plain_details(details: Mapping[str, Any]) -> dict[str, JsonValue]:
    """``details`` as plain JSON values, checked for secret-looking keys and values and for depth."""
    if not isinstance(details, Mapping):
        raise TypeError("audit details must be a mapping")
    return _plain_mapping(details, "details", 1)


def details_json(details: Mapping[str, Any]) -> str:
    """Canonical JSON text of checked ``details``, replaced by a truncation marker when too large."""
    encoded = canonical_json(plain_details(details))
    if len(encoded) <= AUDIT_DETAILS_MAX_BYTES:
        return encoded.decode("utf-8")
    return canonical_json(truncation_marker(encoded)).decode("utf-8")


def truncation_marker(encoded: bytes) -> dict[str, JsonValue]:
    """The details stored instead of ``encoded`` (too large): its size and a preview that fits."""
    preview_bytes = AUDIT_DETAILS_PREVIEW_BYTES
    while True:
        preview = encoded[:preview_bytes].decode("utf-8", errors="ignore")
        marker: dict[str, JsonValue] = {
            TRUNCATION_MARKER_KEY: True, "original_bytes": len(encoded), "preview": preview,
        }
        if len(canonical_json(marker)) <= AUDIT_DETAILS_MAX_BYTES or preview_bytes == 0:
            return marker
        preview_bytes //= 2  # escaping (control characters) made it too long


def prepare_event(event: AuditEvent) -> PreparedEvent:
    """Check and shape ``event`` for storage. Raises ``ValueError``/``TypeError`` (see module docstring)."""
    action = clip_text(event.action, "action")
    outcome = clip_text(event.outcome, "outcome")
    if not action or not outcome:
        raise ValueError("an audit event needs a non-empty action and outcome")
    return PreparedEvent(
        action=action,
        outcome=outcome,
        actor=clip_text(event.actor, "actor"),
        jti=clip_text(event.jti, "jti"),
        client=clip_text(event.client, "client"),
        target=clip_text(event.target, "target"),
        details_json=details_json(event.details),
    )


def _plain_mapping(mapping: Mapping[Any, Any], path: str, depth: int) -> dict[str, JsonValue]:
    if depth > AUDIT_DETAILS_MAX_DEPTH:
        raise ValueError(f"audit {path} nested deeper than {AUDIT_DETAILS_MAX_DEPTH} levels")
    plain: dict[str, JsonValue] = {}
    for key, value in mapping.items():
        if not isinstance(key, str):
            raise TypeError(f"audit {path} keys must be strings")
        if is_secret_key(key):
            raise ValueError(f"audit {path} key {key!r} is named like a secret; refusing to store it")
        plain[key] = _plain_value(value, f"{path}.{key}", depth)
    return plain


def _plain_value(value: Any, path: str, depth: int) -> JsonValue:
    if isinstance(value, Mapping):
        return _plain_mapping(value, path, depth + 1)
    if isinstance(value, (list, tuple)):
        if depth + 1 > AUDIT_DETAILS_MAX_DEPTH:
            raise ValueError(f"audit {path} nested deeper than {AUDIT_DETAILS_MAX_DEPTH} levels")
        return [_plain_value(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
    if isinstance(value, str):
        if looks_like_token(value):
            raise ValueError(f"audit {path} looks like a token; refusing to store it")
        return value
    if value is None or isinstance(value, (bool, int, float)):
        return value  # NaN and infinities are refused by canonical_json
    raise TypeError(f"audit {path}: {type(value).__name__} is not JSON")
