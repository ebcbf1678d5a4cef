"""Fixtures for the state database tests: a controllable clock and a real database file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
import pytest

from gateway.statedb.connection import close_state_db, open_state_db
from tests.support.clock import FakeClock

@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "state.db"


@pytest.fixture
async def conn(db_path: Path) -> AsyncIterator[aiosqlite.Connection]:
    connection = await open_state_db(db_path)
    try:
        yield connection
    finally:
        await close_state_db(connection)
