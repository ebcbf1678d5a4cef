"""Hash-chained, append-only audit log of state-changing and refused requests."""

from __future__ import annotations

from gateway.audit.chain import GENESIS_HASH, ChainVerifier, VerifyResult, canonical_json, entry_hash, verify_chain
from gateway.audit.model import AuditEvent, StoredEntry
from gateway.audit.store import AuditLog

__all__ = [
    "GENESIS_HASH",
    "AuditEvent",
    "AuditLog",
    "ChainVerifier",
    "StoredEntry",
    "VerifyResult",
    "canonical_json",
    "entry_hash",
    "verify_chain",
]
