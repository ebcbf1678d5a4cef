"""Who issued each token (schema v2) and cascading revocation, on a real database file."""

from __future__ import annotations

from pathlib import Path

import aiosqlite
import pytest

from gateway.statedb.connection import close_state_db, open_state_db, state_db
from gateway.statedb.migrate import apply_migrations, read_user_version
from gateway.statedb.schema import MIGRATIONS, SCHEMA_VERSION
from gateway.statedb.tokens import Revocation, TokenRegistry

from .conftest import FakeClock

HOUR_S = 3600


async def record(registry: TokenRegistry, clock: FakeClock, jti: str, issuer: str | None = None) -> None:
    iat = int(clock())
    await registry.record_issued(jti, f"user-{jti}", "admin", "kid-1", iat, iat + HOUR_S, issuer_jti=issuer)


async def tree(registry: TokenRegistry, clock: FakeClock) -> None:
    """root -> a -> (a1, a2 -> a2x); root -> b; other (unrelated, from the CLI)."""
    await record(registry, clock, "root")
    await record(registry, clock, "a", "root")
    await record(registry, clock, "a1", "a")
    await record(registry, clock, "a2", "a")
    await record(registry, clock, "a2x", "a2")
    await record(registry, clock, "b", "root")
    await record(registry, clock, "other")


async def revoked(registry: TokenRegistry) -> set[str]:
    return await registry.revoked_jtis()


async def test_issuer_is_recorded_and_listed(conn: aiosqlite.Connection, clock: FakeClock) -> None:
    registry = TokenRegistry(conn, clock)
    await tree(registry, clock)
    records = {r.jti: r for r in await registry.list_tokens()}
    assert records["a2x"].issuer_jti == "a2" and records["a"].issuer_jti == "root"
    assert records["root"].issuer_jti is None and records["other"].issuer_jti is None
    assert (await registry.get("a1")).issuer_jti == "a"  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="own issuer"):
        await record(registry, clock, "self", "self")


async def test_revoking_revokes_what_it_issued_transitively(conn: aiosqlite.Connection, clock: FakeClock) -> None:
    registry = TokenRegistry(conn, clock)
    await tree(registry, clock)
    result = await registry.revoke_known("a")
    assert result == Revocation(jti="a", newly=True, cascaded=("a1", "a2", "a2x"))
    assert result.newly_revoked == ("a", "a1", "a2", "a2x")
    assert await revoked(registry) == {"a", "a1", "a2", "a2x"}
    # the issuer's parent and siblings are untouched; revoking the root takes the rest, once each
    again = await registry.revoke_known("root")
    assert again == Revocation(jti="root", newly=True, cascaded=("b",))
    assert await revoked(registry) == {"root", "a", "a1", "a2", "a2x", "b"}
    assert await registry.revoke_known("root") == Revocation(jti="root", newly=False, cascaded=())
    # every revocation carries its token's exp, so pruning drops it with the record
    rows = await conn.execute_fetchall("SELECT COUNT(*) FROM revoked_jti WHERE exp IS NULL")
    assert next(iter(rows))[0] == 0


async def test_plain_revoke_cascades_too(conn: aiosqlite.Connection, clock: FakeClock) -> None:
    """The admin CLI's revoke (by id, known or not) takes the issued tokens with it as well."""
    registry = TokenRegistry(conn, clock)
    await tree(registry, clock)
    assert await registry.revoke("a2") is True
    assert await revoked(registry) == {"a2", "a2x"}
    assert await registry.revoke("a2") is False
    assert await registry.revoke("issued-elsewhere") is True  # still recorded for the CLI


async def test_unknown_id_is_not_recorded_by_revoke_known(conn: aiosqlite.Connection, clock: FakeClock) -> None:
    registry = TokenRegistry(conn, clock)
    await tree(registry, clock)
    assert await registry.revoke_known("never-issued") is None
    assert await revoked(registry) == set()
    # an id revoked before by the CLI (never issued here) is known: already revoked
    await registry.revoke("foreign-id")
    assert await registry.revoke_known("foreign-id") == Revocation(jti="foreign-id", newly=False)


async def test_cascade_is_seen_by_another_connection(db_path: Path, clock: FakeClock) -> None:
    """The server's change detection reports a cascade written by the CLI's connection."""
    async with state_db(db_path) as server_conn, state_db(db_path) as cli_conn:
        server, cli = TokenRegistry(server_conn, clock), TokenRegistry(cli_conn, clock)
        await tree(server, clock)
        await server.revoked_jtis()
        assert await server.changed_since_last_check() is False
        assert await cli.revoke("root") is True
        assert await server.changed_since_last_check() is True
        assert await server.revoked_jtis() == {"root", "a", "a1", "a2", "a2x", "b"}


async def test_version_1_database_is_migrated_with_its_tokens(db_path: Path, clock: FakeClock) -> None:
    db_path.parent.mkdir(parents=True)
    old = await aiosqlite.connect(db_path, isolation_level=None)
    try:
        assert await apply_migrations(old, MIGRATIONS[:1]) == 1
        await old.execute("INSERT INTO issued_token (jti, sub, role, kid, iat, exp) VALUES ('v1', 's', 'admin', 'k', 1, 9e9)")
    finally:
        await old.close()
    conn = await open_state_db(db_path)
    try:
        assert SCHEMA_VERSION == 2
        assert await read_user_version(conn) == SCHEMA_VERSION
        registry = TokenRegistry(conn, clock)
        legacy = await registry.get("v1")
        assert legacy is not None and legacy.issuer_jti is None
        await record(registry, clock, "child", "v1")
        assert await registry.revoke_known("v1") == Revocation(jti="v1", newly=True, cascaded=("child",))
    finally:
        await close_state_db(conn)
