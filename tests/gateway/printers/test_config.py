"""The printers section of the config: typed, strict, unique serials, safe limits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.config.loader import ConfigError, validate_config_data

PRINTER = {"serial": "01S00C123456789", "host": "192.168.40.31"}


def load(printers: dict[str, Any]) -> Any:
    return validate_config_data({"printers": printers}, source="test", base_dir=Path("/etc/edge-gateway"))


def issues(printers: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(printers)
    return [str(issue) for issue in info.value.issues]


def test_defaults_and_a_printer() -> None:
    config = load({"printers": [dict(PRINTER, ca_file="bambu-ca.pem")]})
    printer = config.printers.printers[0]
    assert printer.port == 8883 and printer.insecure_skip_verify is False
    assert printer.ca_file == Path("/etc/edge-gateway/bambu-ca.pem")
    assert (printer.limits.nozzle_max_c, printer.limits.bed_max_c) == (300.0, 110.0)
    assert config.printers.offline_after_s == 60 and config.printers.simulated_printers == 0
    assert load({}).printers.printers == []


def test_bad_printer_entries_name_their_key() -> None:
    assert any("printers.printers[1].serial" in i and "listed twice" in i
               for i in issues({"printers": [PRINTER, PRINTER]}))
    assert any("printers.printers[0].serial" in i for i in issues({"printers": [dict(PRINTER, serial="abc")]}))
    assert any("pin_sha256" in i for i in issues({"printers": [dict(PRINTER, pin_sha256="AB" * 32)]}))
    assert any("access_code" in i and "unknown key" in i
               for i in issues({"printers": [dict(PRINTER, access_code="12345678")]}))
    assert any("nozzle_max_c" in i for i in issues({"printers": [dict(PRINTER, limits={"nozzle_max_c": 500})]}))
    assert any("printers.offline_after_s" in i for i in issues({"offline_after_s": 0}))
