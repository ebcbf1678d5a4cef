"""Fixtures for the audit log tests: a controllable clock, a real database file, event factories."""

from __future__ import annotations

from typing import Any

import aiosqlite
import pytest

from gateway.audit.model import AuditEvent
from gateway.audit.store import AuditLog
from tests.support.statedb import conn, db_path  # noqa: F401  (fixtures)

CLOCK_START_S = 1_700_000_000.25


class FakeClock:
    """Wall clock under the test's control; every reading moves it on by ``step_s``."""

    def __init__(self, now: float = CLOCK_START_S, step_s: float = 0.5) -> None:
        self.now = now
        self.step_s = step_s

    def __call__(self) -> float:
        value = self.now
        self.now += self.step_s
        return value


def event(n: int = 0, **overrides: Any) -> AuditEvent:
    """A typical event, numbered so entries differ."""
    fields: dict[str, Any] = {
        "action": "printers.command", "outcome": "ok", "actor": "alice", "jti": f"jti-{n}",
        "client": "10.0.0.7", "target": f"printer-{n}",
        "details": {"method": "POST", "path": f"/api/v1/printers/p{n}/commands", "status": 202, "n": n},
    }
    fields.update(overrides)
    return AuditEvent(**fields)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()



@pytest.fixture
def log(conn: aiosqlite.Connection, clock: FakeClock) -> AuditLog:
    return AuditLog(conn, clock)
