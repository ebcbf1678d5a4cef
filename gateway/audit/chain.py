"""The audit log's hash chain: canonical JSON, entry hashes and chain verification. Pure, no I/O.

Hash of an entry::

    hash = hex(SHA-256( prev_hash as ASCII hex  ||  canonical_json(hashed_fields(entry)) ))

where ``hashed_fields`` are ``id, ts, action, outcome, actor, jti, client, target, details`` (every
stored field but ``prev_hash``, which is the prefix, and ``hash`` itself). ``canonical_json`` is
``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)`` in UTF-8,
so anyone can recompute the chain from ``GET /api/v1/audit``. The first entry's ``prev_hash`` is
``GENESIS_HASH``; ids are 1, 2, 3 ... with no gaps.

The chain shows that entries were altered, removed, inserted or reordered; it cannot show that the
newest entries were cut off or the whole tail rewritten by someone with write access to the file.
Recording the head hash elsewhere (upstream sync, a printout) anchors it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from gateway.audit.model import StoredEntry

GENESIS_HASH: Final = "0" * 64
"""``prev_hash`` of the first entry."""

HASHED_FIELDS: Final[tuple[str, ...]] = (
    "id", "ts", "action", "outcome", "actor", "jti", "client", "target", "details",
)
"""The entry fields covered by its hash, besides the ``prev_hash`` prefix."""

REASON_HASH_MISMATCH: Final = "hash mismatch"
REASON_PREV_LINK_MISMATCH: Final = "prev link mismatch"
REASON_ID_GAP: Final = "id gap"


def canonical_json(obj: Any) -> bytes:
    """The one serialisation the chain hashes: sorted keys, no spaces, UTF-8, floats allowed.

    Raises ``ValueError`` for NaN/Infinity and for strings that are not valid Unicode (lone
    surrogates), ``TypeError`` for anything that is not JSON (sets, bytes, objects ...).
    """
    text = json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_mapping_as_dict
    )
    return text.encode("utf-8")


def _mapping_as_dict(obj: object) -> dict[Any, Any]:
    """Read-only mappings (``MappingProxyType``) serialise like dicts; anything else is not JSON."""
    if isinstance(obj, Mapping):
        return dict(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable")


def hashed_fields(entry: StoredEntry) -> dict[str, Any]:
    """The fields of ``entry`` that its hash covers, as a plain mapping."""
    return {name: getattr(entry, name) for name in HASHED_FIELDS}


def entry_hash(prev_hash: str, entry: Mapping[str, Any]) -> str:
    """Hex SHA-256 over ``prev_hash`` (ASCII) followed by the canonical JSON of ``entry``.

    ``entry`` holds the entry's fields without its own hash (``hashed_fields``).
    """
    digest = hashlib.sha256(prev_hash.encode("ascii"))
    digest.update(canonical_json(dict(entry)))
    return digest.hexdigest()


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of checking a chain.

    ``checked`` counts the entries examined, including the first broken one. ``first_broken_id`` is the
    first entry at which a check failed: for a prev link mismatch that is the entry *after* the altered
    or removed one (its link no longer matches). ``head_hash`` is the hash of the last intact entry
    (``GENESIS_HASH`` for an empty log): record it elsewhere to anchor the chain.
    """

    ok: bool
    checked: int
    first_broken_id: int | None
    reason: str | None
    head_hash: str = GENESIS_HASH


class ChainVerifier:
    """Checks entries one at a time, oldest first, so a long log can be streamed through it.

    For each entry, in this order: its id follows the previous one (``id gap`` otherwise, which also
    catches a removed entry), its ``prev_hash`` equals the previous entry's ``hash`` (``prev link
    mismatch``: an entry before it was altered and re-hashed, removed, inserted or moved), and its
    ``hash`` matches its content (``hash mismatch``: the entry itself was altered).
    """

    def __init__(self) -> None:
        self._expected_id = 1
        self._prev_hash = GENESIS_HASH
        self._checked = 0
        self._broken_id: int | None = None
        self._reason: str | None = None

    @property
    def broken(self) -> bool:
        """True once a check has failed; later entries are then ignored."""
        return self._broken_id is not None

    @property
    def next_expected_id(self) -> int:
        """The id the next entry must have."""
        return self._expected_id

    def feed(self, entry: StoredEntry) -> bool:
        """Check the next entry; returns False once the chain is broken (stop feeding)."""
        if self.broken:
            return False
        self._checked += 1
        if entry.id != self._expected_id:
            return self._fail(entry.id, f"{REASON_ID_GAP}: expected entry {self._expected_id}, found {entry.id}")
        if entry.prev_hash != self._prev_hash:
            return self._fail(
                entry.id,
                f"{REASON_PREV_LINK_MISMATCH}: entry {entry.id} does not link to the entry before it "
                "(that entry altered, or entries removed, inserted or reordered)",
            )
        try:
            recomputed = entry_hash(entry.prev_hash, hashed_fields(entry))
        except (TypeError, ValueError):
            recomputed = None
        if recomputed != entry.hash:
            return self._fail(entry.id, f"{REASON_HASH_MISMATCH}: entry {entry.id}'s content was altered")
        self._expected_id = entry.id + 1
        self._prev_hash = entry.hash
        return True

    def mark_unreadable(self, entry_id: int, reason: str) -> bool:
        """Count an entry that could not even be decoded (e.g. its details are not JSON) as broken."""
        if self.broken:
            return False
        self._checked += 1
        return self._fail(entry_id, f"{REASON_HASH_MISMATCH}: entry {entry_id} {reason}")

    def _fail(self, entry_id: int, reason: str) -> bool:
        self._broken_id, self._reason = entry_id, reason
        return False

    def result(self) -> VerifyResult:
        """The outcome so far."""
        return VerifyResult(
            ok=not self.broken, checked=self._checked, first_broken_id=self._broken_id,
            reason=self._reason, head_hash=self._prev_hash,
        )


def verify_chain(entries: Iterable[StoredEntry]) -> VerifyResult:
    """Check ``entries`` (oldest first) and stop at the first broken one."""
    verifier = ChainVerifier()
    for entry in entries:
        if not verifier.feed(entry):
            break
    return verifier.result()
