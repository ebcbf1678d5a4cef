"""The [telemetry] section: safe defaults, unknown keys and impossible budgets refused, the file path."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.telemetry.budget import budget_pragmas
from gateway.telemetry.config import TelemetrySection
from tests.support.gateway import make_config


def test_defaults_and_path(tmp_path: Path) -> None:
    config = make_config(tmp_path / "state")
    section = config.telemetry
    assert (section.overflow, section.durability, section.flush_interval_ms) == ("drop_oldest", "full", 250)
    assert section.db_path(config.gateway.state_dir) == tmp_path / "state" / "telemetry.db"
    assert TelemetrySection(path=Path("buf/t.db")).db_path(tmp_path) == tmp_path / "buf" / "t.db"
    assert TelemetrySection(path=Path("/srv/t.db")).db_path(tmp_path) == Path("/srv/t.db")


@pytest.mark.parametrize("values, field", [
    ({"colour": "red"}, "colour"), ({"overflow": "drop_newest"}, "overflow"), ({"durability": "off"}, "durability"),
    ({"flush_interval_ms": 0}, "flush_interval_ms"), ({"max_bytes": 1024}, "max_bytes"),
    ({"max_bytes": 256 * 1024, "batch_size": 200_000, "max_pending": 200_000}, "max_bytes"),
    ({"batch_size": 5_000, "max_pending": 1_000}, "max_pending"),
])
def test_bad_values_refused(values: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        TelemetrySection(**values)
    assert field in str(info.value)


def test_budget_split_keeps_the_wal_inside() -> None:
    for max_bytes, batch in ((256 * 1024, 500), (256 * 1024 * 1024, 20_000), (2**20, 1_000)):
        pragmas = budget_pragmas(max_bytes, batch)
        assert pragmas.max_page_count * 4096 + pragmas.journal_size_limit_bytes <= max_bytes
        assert pragmas.wal_autocheckpoint_pages >= 1
