"""Apply the schema migrations of ``gateway.statedb.schema`` to an open connection.

Safe when two processes open the same new database at once: the version is re-read inside
``BEGIN IMMEDIATE`` (which takes SQLite's write lock), so exactly one process applies each migration
and the other sees it done. An up-to-date database is checked without taking the write lock.
"""

from __future__ import annotations

from collections.abc import Sequence

import aiosqlite

from gateway.statedb.schema import MIGRATIONS


class SchemaTooNewError(RuntimeError):
    """The database was migrated by a newer gateway than this one; refusing to touch it."""


async def read_user_version(conn: aiosqlite.Connection) -> int:
    """The database's ``PRAGMA user_version`` (0 for a new file)."""
    async with conn.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row is not None else 0


async def apply_migrations(
    conn: aiosqlite.Connection, migrations: Sequence[Sequence[str]] = MIGRATIONS
) -> int:
    """Bring the schema up to ``len(migrations)``; returns how many migrations this call applied.

    The connection must be in autocommit mode (``isolation_level=None``), as ``open_state_db`` opens it.
    Raises ``SchemaTooNewError`` if the database is newer than ``migrations``.
    """
    target = len(migrations)
    current = await read_user_version(conn)
    _check_not_newer(current, target)
    if current == target:
        return 0
    await conn.execute("BEGIN IMMEDIATE")
    try:
        current = await read_user_version(conn)  # another process may have migrated meanwhile
        _check_not_newer(current, target)
        for version in range(current + 1, target + 1):
            for statement in migrations[version - 1]:
                await conn.execute(statement)
        # PRAGMA takes no parameters; target is an int computed here, never user input.
        await conn.execute(f"PRAGMA user_version = {int(target)}")
        await conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            await conn.execute("ROLLBACK")
        raise
    return target - current


def _check_not_newer(current: int, target: int) -> None:
    if current > target:
        raise SchemaTooNewError(
            f"state database schema version {current} is newer than this gateway's ({target})"
        )
