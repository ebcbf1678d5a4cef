"""What the audit log stores: an event as appended, and an entry as stored with its chain link."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class AuditEvent:
    """Something that happened, as the HTTP layer or the CLI reports it.

    ``details`` must be JSON-able and small; keys that look like secrets are refused (see
    ``gateway.audit.sanitize``).
    """

    action: str
    """What was attempted, e.g. the route name ``tokens.revoke`` or ``keys.rotate``."""
    outcome: str
    """``ok``, ``refused`` or ``failed`` (free text, by convention)."""
    actor: str | None
    """The token's ``sub``, ``cli:<user>`` or ``system``; None when unauthenticated."""
    jti: str | None
    """The id of the token used, if any."""
    client: str | None
    """The client address (``local`` for the CLI)."""
    target: str | None
    """What was acted on (a printer serial, a token id, a key id ...)."""
    details: Mapping[str, Any] = field(default_factory=dict, hash=False)
    """Small JSON-able extra facts (method, path, status ...)."""


@dataclass(frozen=True)
class StoredEntry:
    """One stored audit entry: the event, its id and time, and its link in the hash chain."""

    id: int
    ts: float
    """Wall-clock seconds since the epoch when the entry was appended."""
    action: str
    outcome: str
    actor: str | None
    jti: str | None
    client: str | None
    target: str | None
    details: Mapping[str, Any] = field(hash=False)
    prev_hash: str
    """``hash`` of the previous entry (``GENESIS_HASH`` for the first one)."""
    hash: str
    """Hex SHA-256 over ``prev_hash`` and the canonical JSON of this entry (``gateway.audit.chain``)."""
