"""The gateway's own state (not telemetry) in one SQLite file: token registry, revocations, audit log."""

from __future__ import annotations

from gateway.statedb.connection import close_state_db, open_state_db, state_db
from gateway.statedb.migrate import SchemaTooNewError, apply_migrations
from gateway.statedb.tokens import Revocation, TokenRecord, TokenRegistry

__all__ = [
    "Revocation",
    "SchemaTooNewError",
    "TokenRecord",
    "TokenRegistry",
    "apply_migrations",
    "close_state_db",
    "open_state_db",
    "state_db",
]
