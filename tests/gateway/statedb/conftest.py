"""Fixtures for the state database tests: a controllable clock and a real database file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
import pytest

from gateway.statedb.connection import close_state_db, open_state_db

CLOCK_START_S = 1_700_000_000.0


class FakeClock:
    """Wall clock under the test's control."""

    def __init__(self, now: float = CLOCK_START_S) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


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
