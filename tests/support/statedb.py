"""Fixtures for tests on a real state database file (imported by the conftest files that need them)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
import pytest

from gateway.statedb.connection import close_state_db, open_state_db


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "state.db"


@pytest.fixture
async def conn(db_path: Path) -> AsyncIterator[aiosqlite.Connection]:
    """An open state database (migrated), closed with its thread after the test."""
    connection = await open_state_db(db_path)
    try:
        yield connection
    finally:
        await close_state_db(connection)
