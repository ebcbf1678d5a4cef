"""The state database's schema as an ordered list of migrations.

Migration *n* (1-based) brings the schema from ``PRAGMA user_version`` *n - 1* to *n*. Migrations are
append-only: never edit a released one, add the next. Each is a tuple of single SQL statements
(no splitting on ``;``: trigger bodies contain semicolons), run inside one ``BEGIN IMMEDIATE``
transaction together with the ``user_version`` bump.

Tables
------
``issued_token``
    One row per token the gateway issued (never the token itself).
``revoked_jti``
    Revoked token ids; ``exp`` is the token's expiry when known (NULL for a jti never issued here).
``state_counter``
    Named counters; ``revocations`` is bumped by triggers on every change to ``revoked_jti`` so that a
    process can tell cheaply whether its cached revocation set is stale.
``audit_log``
    The hash-chained audit log (see ``gateway.audit.chain``). Triggers abort every UPDATE and DELETE.

Version 2 adds ``issued_token.issuer_jti``: the ``jti`` of the token that issued this one through the API
(NULL when issued on the device by the admin CLI or provisioning, and for tokens recorded before v2), so
that revoking a token revokes, transitively, every token it issued.
"""

from __future__ import annotations

from typing import Final

MIGRATION_1_TOKENS_AND_AUDIT: Final[tuple[str, ...]] = (
    """
    CREATE TABLE issued_token (
        jti TEXT PRIMARY KEY NOT NULL,
        sub TEXT NOT NULL,
        role TEXT NOT NULL,
        kid TEXT NOT NULL,
        iat INTEGER NOT NULL,
        exp INTEGER NOT NULL
    )
    """,
    "CREATE INDEX issued_token_exp ON issued_token (exp)",
    """
    CREATE TABLE revoked_jti (
        jti TEXT PRIMARY KEY NOT NULL,
        revoked_at REAL NOT NULL,
        exp INTEGER
    )
    """,
    """
    CREATE TABLE state_counter (
        name TEXT PRIMARY KEY NOT NULL,
        value INTEGER NOT NULL
    )
    """,
    "INSERT INTO state_counter (name, value) VALUES ('revocations', 0)",
    """
    CREATE TRIGGER revoked_jti_count_insert AFTER INSERT ON revoked_jti BEGIN
        UPDATE state_counter SET value = value + 1 WHERE name = 'revocations';
    END
    """,
    """
    CREATE TRIGGER revoked_jti_count_update AFTER UPDATE ON revoked_jti BEGIN
        UPDATE state_counter SET value = value + 1 WHERE name = 'revocations';
    END
    """,
    """
    CREATE TRIGGER revoked_jti_count_delete AFTER DELETE ON revoked_jti BEGIN
        UPDATE state_counter SET value = value + 1 WHERE name = 'revocations';
    END
    """,
    """
    CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY NOT NULL,
        ts REAL NOT NULL,
        action TEXT NOT NULL,
        outcome TEXT NOT NULL,
        actor TEXT,
        jti TEXT,
        client TEXT,
        target TEXT,
        details TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    )
    """,
    """
    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN
        SELECT RAISE(ABORT, 'audit_log is append-only');
    END
    """,
    """
    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN
        SELECT RAISE(ABORT, 'audit_log is append-only');
    END
    """,
)
"""Version 1: token registry, revocations and their change counter, audit log."""

MIGRATION_2_TOKEN_ISSUER: Final[tuple[str, ...]] = (
    "ALTER TABLE issued_token ADD COLUMN issuer_jti TEXT",
    "CREATE INDEX issued_token_issuer ON issued_token (issuer_jti) WHERE issuer_jti IS NOT NULL",
)
"""Version 2: who issued each token (its issuer's jti), for cascading revocation."""

MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (MIGRATION_1_TOKENS_AND_AUDIT, MIGRATION_2_TOKEN_ISSUER)
"""Every migration in order; ``len(MIGRATIONS)`` is the schema version this code expects."""

SCHEMA_VERSION: Final = len(MIGRATIONS)
"""The ``PRAGMA user_version`` of a fully migrated database."""
