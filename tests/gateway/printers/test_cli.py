"""`edge-gateway printers pin|set-code|list` against the real broker, then a gateway that uses what they stored."""

from __future__ import annotations

import asyncio
import io
import json
import stat
from pathlib import Path

import pytest

from gateway.cli.main import main
from gateway.config.loader import load_config
from gateway.factory import create_gateway
from gateway.printers.simulator.broker import Mosquitto
from tests.gateway.printers.conftest import SimulatorFactory, eventually
from tests.support.gateway import ApiClient, issue
from tests.support.mosquitto import ACCESS_CODE, PRINTER_SERIAL, BrokerCerts


def write_config(tmp_path: Path, broker: Mosquitto) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[gateway]\nid = "gw-test-01"\nstate_dir = "{tmp_path / "state"}"\n'
        '[http]\nlisten = [{ host = "127.0.0.1", port = 0 }]\n'
        f'[[printers.printers]]\nserial = "{PRINTER_SERIAL}"\nname = "bay 3"\nhost = "127.0.0.1"\nport = {broker.port}\n'
    )
    return path


async def test_pin_and_set_code_then_the_gateway_connects(
    tmp_path: Path, printer_broker: Mosquitto, broker_certs: BrokerCerts, simulators: SimulatorFactory,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
) -> None:
    config_file = write_config(tmp_path, printer_broker)
    assert await asyncio.to_thread(main, ["printers", "pin", PRINTER_SERIAL, "--config", str(config_file)]) == 0
    out = capsys.readouterr().out
    assert f"certificate CN:      {PRINTER_SERIAL}" in out
    assert broker_certs.sha256.upper()[:2] + ":" in out and "pin stored" in out
    monkeypatch.setattr("sys.stdin", io.StringIO(ACCESS_CODE + "\n"))
    assert await asyncio.to_thread(main, ["printers", "set-code", PRINTER_SERIAL, "--config", str(config_file)]) == 0
    capsys.readouterr()
    store = tmp_path / "state" / "printers.json"
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    stored = json.loads(store.read_text())[PRINTER_SERIAL]
    assert stored["pin_sha256"] == broker_certs.sha256 and ACCESS_CODE not in store.read_text()
    assert await asyncio.to_thread(main, ["printers", "list", "--config", str(config_file)]) == 0
    assert f"{PRINTER_SERIAL:20} 127.0.0.1:{printer_broker.port}" in capsys.readouterr().out

    await simulators(printer_broker)
    gateway = await create_gateway(load_config(config_file, {}))
    await gateway.start()
    api = ApiClient(gateway.urls[0])
    try:
        token = await issue(gateway, "viewer")

        async def online() -> bool:
            reply = await api.request("GET", f"/api/v1/printers/{PRINTER_SERIAL}", token=token)
            return reply.json()["online"]

        await eventually(online)
    finally:
        await api.close()
        await gateway.stop()
    assert ACCESS_CODE not in caplog.text


def test_cli_refusals(tmp_path: Path, printer_broker: Mosquitto, monkeypatch: pytest.MonkeyPatch,
                      capsys: pytest.CaptureFixture[str]) -> None:
    config_file = write_config(tmp_path, printer_broker)
    assert main(["printers", "pin", "01S00C000000000", "--config", str(config_file)]) == 1
    assert "no printer" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    assert main(["printers", "set-code", PRINTER_SERIAL, "--config", str(config_file)]) == 1
    assert "stdin" in capsys.readouterr().err
    printer_broker_port = printer_broker.port
    closed = tmp_path / "closed.toml"
    closed.write_text(config_file.read_text().replace(f"port = {printer_broker_port}", "port = 1"))
    assert main(["printers", "pin", PRINTER_SERIAL, "--config", str(closed)]) == 1
    assert "could not read the certificate" in capsys.readouterr().err


def test_pin_refuses_a_certificate_of_another_serial_unless_forced(
    tmp_path: Path, printer_broker: Mosquitto, capsys: pytest.CaptureFixture[str]
) -> None:
    other = "01S00C000000009"  # the broker's certificate says PRINTER_SERIAL: another printer answers here
    config_file = write_config(tmp_path, printer_broker)
    config_file.write_text(config_file.read_text().replace(PRINTER_SERIAL, other))
    assert main(["printers", "pin", other, "--config", str(config_file)]) == 1
    err = capsys.readouterr().err
    assert f"CN '{PRINTER_SERIAL}' is not the serial {other}" in err and "nothing stored" in err
    assert not (tmp_path / "state" / "printers.json").exists()
    assert main(["printers", "pin", other, "--force", "--config", str(config_file)]) == 0
    assert "pinned with --force" in capsys.readouterr().err
    stored = json.loads((tmp_path / "state" / "printers.json").read_text())[other]
    assert stored["pin_common_name"] == PRINTER_SERIAL
