"""`edge-gateway db stats` and `db export --after CURSOR` on a real buffer file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.cli.main import main
from gateway.telemetry.cursor import Cursor
from gateway.telemetry.store import TelemetryStore
from tests.gateway.telemetry.tel_helpers import samples, settings


@pytest.fixture
async def buffer(tmp_path: Path) -> tuple[Path, str]:
    state = tmp_path / "state"
    config = tmp_path / "config.toml"
    config.write_text(f'[gateway]\nid = "gw-cli-01"\nstate_dir = "{state}"\n')
    store = await TelemetryStore.open(state / "telemetry.db", settings())
    for sample in samples(30):
        store.put(sample)
    await store.flush()
    await store.ack(Cursor(store.epoch, 10))
    await store.close()
    return config, store.epoch


def test_stats(buffer: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    config, epoch = buffer
    assert main(["db", "stats", "--json", "--config", str(config)]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["rows"] == 20 and stats["epoch"] == epoch and stats["acked_cursor"] == f"{epoch}.10"
    assert stats["oldest"]["seq"] == 11 and stats["newest"]["seq"] == 30
    assert stats["dropped_samples"] == 0 and stats["rejected_samples"] == 0 and stats["size_bytes"] > 0
    assert main(["db", "stats", "--config", str(config)]) == 0
    assert "acked_cursor" in capsys.readouterr().out


def test_export_after_cursor(buffer: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    config, epoch = buffer
    assert main(["db", "export", "--after", f"{epoch}.25", "--config", str(config)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [26, 27, 28, 29, 30]
    assert main(["db", "export", "--config", str(config)]) == 0  # default: after the acked cursor
    assert len(capsys.readouterr().out.splitlines()) == 20


@pytest.mark.parametrize("after", ["garbage", "0123456789abcdef.1", "{epoch}.999"])
def test_export_refuses_bad_cursors(buffer: tuple[Path, str], capsys: pytest.CaptureFixture[str], after: str) -> None:
    config, epoch = buffer
    if after == "0123456789abcdef.1" and epoch == "0123456789abcdef":
        after = "fedcba9876543210.1"
    assert main(["db", "export", "--after", after.format(epoch=epoch), "--config", str(config)]) == 2
    assert "--after" in capsys.readouterr().err
