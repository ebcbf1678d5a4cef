"""TokenRegistry on a real database file: records, revocations, persistence, pruning, change detection."""

from __future__ import annotations

from pathlib import Path

import aiosqlite
import pytest

from gateway.statedb.connection import state_db
from gateway.statedb.const import REVOCATION_PRUNE_GRACE_S
from gateway.statedb.tokens import TokenRecord, TokenRegistry

from .conftest import FakeClock

HOUR_S = 3600


async def issue(registry: TokenRegistry, clock: FakeClock, jti: str, ttl_s: int = HOUR_S) -> None:
    iat = int(clock())
    await registry.record_issued(jti, f"user-{jti}", "technician", "kid-1", iat, iat + ttl_s)


async def test_record_and_list_newest_first(conn: aiosqlite.Connection, clock: FakeClock) -> None:
    registry = TokenRegistry(conn, clock)
    await issue(registry, clock, "first")
    clock.advance(10)
    await issue(registry, clock, "second")
    await issue(registry, clock, "third")  # same iat as "second": recorded later, listed first
    records = await registry.list_tokens()
    assert [r.jti for r in records] == ["third", "second", "first"]
    first = records[-1]
    assert first == TokenRecord(
        jti="first", sub="user-first", role="technician", kid="kid-1",
        iat=int(clock.now) - 10, exp=int(clock.now) - 10 + HOUR_S, revoked_at=None,
    )
    assert await registry.get("first") == first
    assert await registry.get("missing") is None


async def test_expired_tokens_hidden_unless_asked(conn: aiosqlite.Connection, clock: FakeClock) -> None:
    registry = TokenRegistry(conn, clock)
    await issue(registry, clock, "short", ttl_s=60)
    await issue(registry, clock, "long", ttl_s=HOUR_S)
    clock.advance(60)  # exp <= now: expired
    assert [r.jti for r in await registry.list_tokens()] == ["long"]
    assert {r.jti for r in await registry.list_tokens(include_expired=True)} == {"short", "long"}


async def test_duplicate_jti_is_refused(conn: aiosqlite.Connection, clock: FakeClock) -> None:
    registry = TokenRegistry(conn, clock)
    await issue(registry, clock, "dup")
    with pytest.raises(ValueError, match="already recorded"):
        await issue(registry, clock, "dup")


@pytest.mark.parametrize("jti", ["", "x" * 129])
async def test_invalid_jti_is_refused(conn: aiosqlite.Connection, clock: FakeClock, jti: str) -> None:
    registry = TokenRegistry(conn, clock)
    with pytest.raises(ValueError):
        await registry.revoke(jti)
    with pytest.raises(ValueError):
        await registry.record_issued(jti, "s", "admin", "k", 1, 2)


async def test_revoke(conn: aiosqlite.Connection, clock: FakeClock) -> None:
    registry = TokenRegistry(conn, clock)
    await issue(registry, clock, "tok")
    clock.advance(5)
    assert await registry.revoke("tok") is True
    assert await registry.revoke("tok") is False
    record = await registry.get("tok")
    assert record is not None and record.revoked_at == clock.now
    assert await registry.is_revoked("tok")
    assert await registry.revoked_jtis() == {"tok"}
    rows = list(await conn.execute_fetchall("SELECT exp FROM revoked_jti WHERE jti = 'tok'"))
    assert rows[0][0] == record.exp


async def test_revoking_an_unknown_jti_records_it(conn: aiosqlite.Connection, clock: FakeClock) -> None:
    registry = TokenRegistry(conn, clock)
    assert await registry.revoke("issued-elsewhere") is True
    assert await registry.revoke("issued-elsewhere") is False
    assert await registry.revoked_jtis() == {"issued-elsewhere"}
    assert await registry.list_tokens(include_expired=True) == []
    rows = list(await conn.execute_fetchall("SELECT revoked_at, exp FROM revoked_jti"))
    assert tuple(rows[0]) == (clock.now, None)


async def test_revocations_survive_reopen(db_path: Path, clock: FakeClock) -> None:
    async with state_db(db_path) as conn:
        registry = TokenRegistry(conn, clock)
        await issue(registry, clock, "a")
        await issue(registry, clock, "b")
        await registry.revoke("a")
        await registry.revoke("unknown")
    async with state_db(db_path) as conn:
        registry = TokenRegistry(conn, clock)
        assert await registry.revoked_jtis() == {"a", "unknown"}
        assert await registry.revoke("a") is False
        records = {r.jti: r for r in await registry.list_tokens()}
        assert set(records) == {"a", "b"}
        assert records["a"].revoked_at == clock.now and records["b"].revoked_at is None


async def test_prune_keeps_a_grace_period(conn: aiosqlite.Connection, clock: FakeClock) -> None:
    registry = TokenRegistry(conn, clock)
    await issue(registry, clock, "expiring", ttl_s=60)
    await issue(registry, clock, "living", ttl_s=HOUR_S)
    await registry.revoke("expiring")
    await registry.revoke("living")
    exp = clock.now + 60
    assert await registry.prune_expired(exp) == 0  # still inside the verifier's leeway
    assert await registry.prune_expired(exp + REVOCATION_PRUNE_GRACE_S - 1) == 0
    assert await registry.prune_expired(exp + REVOCATION_PRUNE_GRACE_S) == 2  # record + revocation
    assert await registry.revoked_jtis() == {"living"}
    assert [r.jti for r in await registry.list_tokens(include_expired=True)] == ["living"]
    assert await registry.prune_expired(exp + REVOCATION_PRUNE_GRACE_S) == 0


async def test_prune_without_grace(conn: aiosqlite.Connection, clock: FakeClock) -> None:
    registry = TokenRegistry(conn, clock)
    await issue(registry, clock, "t", ttl_s=60)
    assert await registry.prune_expired(clock.now + 59, grace_s=0) == 0
    assert await registry.prune_expired(clock.now + 60, grace_s=0) == 1


async def test_prune_revocation_of_unknown_jti(conn: aiosqlite.Connection, clock: FakeClock) -> None:
    registry = TokenRegistry(conn, clock)
    await registry.revoke("foreign")
    far_future = clock.now + 365 * 24 * HOUR_S
    assert await registry.prune_expired(far_future) == 0  # exp unknown: kept by default
    assert await registry.prune_expired(clock.now + 99, unknown_exp_retention_s=100) == 0
    assert await registry.prune_expired(clock.now + 100, unknown_exp_retention_s=100) == 1
    assert await registry.revoked_jtis() == set()


async def test_prune_uses_exp_of_a_token_recorded_after_its_revocation(
    conn: aiosqlite.Connection, clock: FakeClock
) -> None:
    registry = TokenRegistry(conn, clock)
    await registry.revoke("late")
    await issue(registry, clock, "late", ttl_s=60)
    assert await registry.prune_expired(clock.now + 60, grace_s=0, unknown_exp_retention_s=10_000) == 2
    assert await registry.revoked_jtis() == set()


async def test_change_detection_across_connections(db_path: Path, clock: FakeClock) -> None:
    async with state_db(db_path) as server_conn, state_db(db_path) as cli_conn:
        server = TokenRegistry(server_conn, clock)
        cli = TokenRegistry(cli_conn, clock)
        assert await server.changed_since_last_check() is True  # no baseline yet
        assert await server.changed_since_last_check() is False

        assert await cli.revoke("from-cli") is True
        assert await server.changed_since_last_check() is True
        assert await server.revoked_jtis() == {"from-cli"}
        assert await server.changed_since_last_check() is False

        await issue(cli, clock, "unrelated")  # another process wrote, but not a revocation
        await cli_conn.execute("INSERT INTO audit_log (id, ts, action, outcome, details, prev_hash, hash)"
                               " VALUES (1, 0, 'a', 'ok', '{}', 'p', 'h')")
        assert await server.changed_since_last_check() is False

        assert await cli.revoke("from-cli") is False  # no change: nothing to report
        assert await server.changed_since_last_check() is False

        await server.revoke("from-server")  # this registry's own change is reported too
        assert await server.changed_since_last_check() is True
        assert await server.changed_since_last_check() is False

        await cli.prune_expired(clock.now + 10 * HOUR_S, unknown_exp_retention_s=0)
        assert await server.changed_since_last_check() is True
        assert await server.revoked_jtis() == set()


async def test_reading_the_set_resets_the_baseline(db_path: Path, clock: FakeClock) -> None:
    async with state_db(db_path) as server_conn, state_db(db_path) as cli_conn:
        server = TokenRegistry(server_conn, clock)
        await TokenRegistry(cli_conn, clock).revoke("x")
        assert await server.revoked_jtis() == {"x"}
        assert await server.changed_since_last_check() is False
