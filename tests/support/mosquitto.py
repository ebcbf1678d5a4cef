"""A real mosquitto broker for the printer tests: TLS (certificate CN = the printer serial), password file, ACL.

`printer_broker` is started once per session on a free loopback port and stopped at the end;
`make_broker` builds extra brokers (e.g. one a test restarts) from the same certificates.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.printers.simulator.broker import BrokerFiles, Mosquitto
from gateway.printers.trust import describe
from tests.support.certs import TestCA
from tests.support.net import free_port

PRINTER_SERIAL = "01S00C123456789"
ACCESS_CODE = "40960731"
SIMULATOR_PASSWORD = "sim-password-1"


@dataclass(frozen=True)
class BrokerCerts:
    ca_file: Path
    files: BrokerFiles
    sha256: str  # the broker certificate's pin
    common_name: str


def make_certs(directory: Path, common_name: str = PRINTER_SERIAL) -> BrokerCerts:
    ca = TestCA(directory)
    issued = ca.issue(common_name)
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    der = x509.load_pem_x509_certificate(issued.cert_file.read_bytes()).public_bytes(serialization.Encoding.DER)
    return BrokerCerts(ca.cert_file, BrokerFiles(issued.cert_file, issued.key_file), describe(der).sha256, common_name)


def skip_without_mosquitto() -> None:
    if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
        pytest.fail("mosquitto is not installed (provisioning/dev.sh installs it)")


@pytest.fixture(scope="session")
def broker_certs(tmp_path_factory: pytest.TempPathFactory) -> BrokerCerts:
    return make_certs(tmp_path_factory.mktemp("printer-pki"))


@pytest.fixture(scope="session")
def printer_broker(tmp_path_factory: pytest.TempPathFactory, broker_certs: BrokerCerts) -> Iterator[Mosquitto]:
    skip_without_mosquitto()
    broker = Mosquitto(tmp_path_factory.mktemp("mosquitto"), free_port(), broker_certs.files,
                       access_code=ACCESS_CODE, simulator_password=SIMULATOR_PASSWORD)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def make_broker(tmp_path: Path, broker_certs: BrokerCerts) -> Iterator[Callable[[], Mosquitto]]:
    skip_without_mosquitto()
    started: list[Mosquitto] = []

    def make() -> Mosquitto:
        broker = Mosquitto(tmp_path / f"mosquitto{len(started)}", free_port(), broker_certs.files,
                           access_code=ACCESS_CODE, simulator_password=SIMULATOR_PASSWORD)
        broker.start()
        started.append(broker)
        return broker

    try:
        yield make
    finally:
        for broker in started:
            broker.stop()
