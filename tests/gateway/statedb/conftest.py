"""Fixtures for the state database tests: a controllable clock and a real database file."""

from __future__ import annotations

import pytest

from tests.support.clock import FakeClock
from tests.support.statedb import conn, db_path  # noqa: F401  (fixtures)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()

