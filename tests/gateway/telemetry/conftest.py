"""Fixture of the telemetry tests: a store on a real file in the test's directory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.telemetry.store import TelemetryStore
from tests.gateway.telemetry.tel_helpers import settings


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[TelemetryStore]:
    opened = await TelemetryStore.open(tmp_path / "telemetry.db", settings())
    try:
        yield opened
    finally:
        await opened.close()
