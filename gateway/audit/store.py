"""The audit log in the state database: append, list, count, verify.

``append`` is one SQL statement, ``INSERT ... SELECT ... RETURNING``: SQLite takes the write lock when
the statement starts (as ``BEGIN IMMEDIATE`` would), reads the last entry's hash and the next id, hashes
the new entry with a function registered on the connection, inserts it and commits. So the chain stays
linear when the server and a CLI command append at the same time, a connection can be shared between
coroutines, and an append costs a single round trip to aiosqlite's thread.

The table is append-only: triggers abort every UPDATE and DELETE (``sqlite3.IntegrityError``). They stop
accidents, not an attacker with the file; the hash chain (``verify``) shows what such a person changed.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

import aiosqlite

from gateway.audit.chain import GENESIS_HASH, ChainVerifier, VerifyResult, entry_hash
from gateway.audit.const import AUDIT_LIST_MAX_LIMIT, AUDIT_VERIFY_CHUNK_ROWS
from gateway.audit.model import AuditEvent, StoredEntry
from gateway.audit.sanitize import prepare_event
from gateway.statedb.const import Clock

HASH_FUNCTION_NAME: Final = "gateway_audit_entry_hash"
"""SQL function registered on the connection by the first ``append``."""

UNREADABLE_DETAILS: Final[Mapping[str, Any]] = MappingProxyType({"_unreadable": True})
"""Shown by ``list`` for a row whose stored details are not a JSON object (only after tampering)."""

_COLUMNS = "id, ts, action, outcome, actor, jti, client, target, details, prev_hash, hash"

_APPEND_SQL: Final = f"""
INSERT INTO audit_log ({_COLUMNS})
SELECT n.id, :ts, :action, :outcome, :actor, :jti, :client, :target, :details, n.prev_hash,
       {HASH_FUNCTION_NAME}(n.prev_hash, n.id, :ts, :action, :outcome, :actor, :jti, :client, :target, :details)
FROM (
    SELECT COALESCE(MAX(id), 0) + 1 AS id,
           COALESCE((SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1), :genesis) AS prev_hash
    FROM audit_log
) AS n
RETURNING id, prev_hash, hash
"""


def hash_stored_values(
    prev_hash: str, entry_id: int, ts: float, action: str, outcome: str, actor: str | None,
    jti: str | None, client: str | None, target: str | None, details_json: str,
) -> str:
    """``entry_hash`` of an entry given as its column values (runs inside SQLite during ``append``)."""
    fields = {
        "id": entry_id, "ts": ts, "action": action, "outcome": outcome, "actor": actor, "jti": jti,
        "client": client, "target": target, "details": json.loads(details_json),
    }
    return entry_hash(prev_hash, fields)


class AuditLog:
    """Append-only, hash-chained audit log on a connection from ``open_state_db``."""

    def __init__(self, conn: aiosqlite.Connection, clock: Clock) -> None:
        self._conn = conn
        self._clock = clock
        self._function_registered = False

    async def append(self, event: AuditEvent) -> StoredEntry:
        """Store ``event`` as the next entry of the chain and return it.

        Raises ``ValueError`` for secret-looking details or text, NaN, or an empty action/outcome, and
        ``TypeError`` for details that are not JSON (see ``gateway.audit.sanitize``).
        """
        prepared = prepare_event(event)
        ts = float(self._clock())
        if not self._function_registered:
            await self._conn.create_function(HASH_FUNCTION_NAME, 10, hash_stored_values, deterministic=True)
            self._function_registered = True
        params = {
            "ts": ts, "action": prepared.action, "outcome": prepared.outcome, "actor": prepared.actor,
            "jti": prepared.jti, "client": prepared.client, "target": prepared.target,
            "details": prepared.details_json, "genesis": GENESIS_HASH,
        }
        rows = builtins.list(await self._conn.execute_fetchall(_APPEND_SQL, params))
        entry_id, prev_hash, entry_hash_hex = rows[0]
        return StoredEntry(
            id=int(entry_id), ts=ts, action=prepared.action, outcome=prepared.outcome, actor=prepared.actor,
            jti=prepared.jti, client=prepared.client, target=prepared.target,
            details=MappingProxyType(json.loads(prepared.details_json)), prev_hash=str(prev_hash),
            hash=str(entry_hash_hex),
        )

    async def count(self) -> int:
        """Number of entries."""
        rows = builtins.list(await self._conn.execute_fetchall("SELECT COUNT(*) FROM audit_log"))
        return int(rows[0][0])

    async def verify(self) -> VerifyResult:
        """Recompute the whole chain, oldest first, ``AUDIT_VERIFY_CHUNK_ROWS`` rows at a time.

        Stops at the first broken entry. Entries appended while it runs are checked too.
        """
        verifier = ChainVerifier()
        last_id = 0
        while True:
            rows = builtins.list(await self._conn.execute_fetchall(
                f"SELECT {_COLUMNS} FROM audit_log WHERE id > ? ORDER BY id LIMIT ?",
                (last_id, AUDIT_VERIFY_CHUNK_ROWS),
            ))
            for row in rows:
                details = _decode_details(row[8])
                if details is None:
                    verifier.mark_unreadable(int(row[0]), "has details that are not a JSON object")
                elif not verifier.feed(_entry(row, details)):
                    return verifier.result()
                if verifier.broken:
                    return verifier.result()
            if len(rows) < AUDIT_VERIFY_CHUNK_ROWS:
                return verifier.result()
            last_id = int(rows[-1][0])

    async def list(self, *, before_id: int | None = None, limit: int = 100) -> builtins.list[StoredEntry]:
        """Entries newest first: the ``limit`` latest, or the ``limit`` latest with an id below ``before_id``."""
        if not 1 <= limit <= AUDIT_LIST_MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {AUDIT_LIST_MAX_LIMIT}")
        if before_id is None:
            sql, params = f"SELECT {_COLUMNS} FROM audit_log ORDER BY id DESC LIMIT ?", (limit,)
        else:
            sql = f"SELECT {_COLUMNS} FROM audit_log WHERE id < ? ORDER BY id DESC LIMIT ?"
            params = (before_id, limit)
        rows = await self._conn.execute_fetchall(sql, params)
        return [_entry(row, _decode_details(row[8]) or UNREADABLE_DETAILS) for row in rows]


def _decode_details(text: object) -> Mapping[str, Any] | None:
    """Stored details as a read-only mapping, or None if they are not a JSON object."""
    if not isinstance(text, str):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return MappingProxyType(value) if isinstance(value, dict) else None


def _entry(row: aiosqlite.Row, details: Mapping[str, Any]) -> StoredEntry:
    entry_id, ts, action, outcome, actor, jti, client, target, _details, prev_hash, hash_hex = row
    return StoredEntry(
        id=int(entry_id), ts=ts, action=action, outcome=outcome, actor=actor, jti=jti, client=client,
        target=target, details=details, prev_hash=prev_hash, hash=hash_hex,
    )
