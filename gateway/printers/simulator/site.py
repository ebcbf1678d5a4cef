"""The demo's simulated printers: a loopback mosquitto (TLS + password file + ACL) and simulator processes.

`prepare()` runs when the gateway is composed: it makes a self-signed broker certificate (CN = the first
serial) in the state directory, stores the pin and the encrypted access code of every simulated printer,
and returns their configs. `run()` is a supervised part that keeps both processes up and stops them on
shutdown.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.printers.config import PrinterConfig
from gateway.printers.credentials import CredentialStore
from gateway.printers.simulator.broker import (
    SIMULATOR_USERNAME,
    BrokerFiles,
    Mosquitto,
    die_with_parent,
    secret_file,
)

log = logging.getLogger(__name__)

SIMULATED_SERIALS = ("01S00A000000001", "01S00A000000002", "01S00A000000003", "01S00A000000004",
                     "01S00A000000005", "01S00A000000006", "01S00A000000007", "01S00A000000008",
                     "01S00A000000009", "01S00A000000010")
CERT_VALID_DAYS = 365
SIMULATOR_RATE_HZ = 1.0
PROCESS_STOP_TIMEOUT_S = 3.0
BROKER_POLL_S = 0.05
DEMO_FAULTY_INDEX = 2


def free_loopback_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def self_signed(directory: Path, common_name: str) -> tuple[BrokerFiles, str]:
    """A printer-like certificate (CN = serial) and its SHA-256 pin; reused when it already exists."""
    cert_file, key_file = directory / "broker.pem", directory / "broker.key"
    if not (cert_file.exists() and key_file.exists()):
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = dt.datetime.now(dt.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
                .not_valid_after(now + dt.timedelta(days=CERT_VALID_DAYS)).sign(key, hashes.SHA256()))
        secret_file(key_file, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()).decode())
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    der = x509.load_pem_x509_certificate(cert_file.read_bytes()).public_bytes(serialization.Encoding.DER)
    from gateway.printers.trust import describe

    return BrokerFiles(cert_file, key_file), describe(der).sha256


@dataclass
class SimulatedSite:
    """A supervised part: the broker and the simulator process of the demo."""

    directory: Path
    broker: Mosquitto
    serials: list[str]
    password_file: Path
    name: str = "printer-simulators"
    process: subprocess.Popen[bytes] | None = None
    broker_up: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once the broker accepts connections: the printer links wait for it (no refused first try)."""

    @classmethod
    def prepare(cls, state_dir: Path, count: int, credentials: CredentialStore) -> tuple[SimulatedSite, list[PrinterConfig]]:
        directory = state_dir / "simulated-printers"
        serials = list(SIMULATED_SERIALS[:count])
        files, pin = self_signed(directory, serials[0])
        access_code = secrets.token_hex(4)
        simulator_password = secrets.token_urlsafe(12)
        password_file = secret_file(directory / "simulator.password", simulator_password)
        broker = Mosquitto(directory / "broker", free_loopback_port(), files, access_code=access_code,
                           simulator_password=simulator_password)
        printers = []
        for index, serial in enumerate(serials):
            credentials.set_access_code(serial, access_code)
            credentials.set_pin(serial, pin, serials[0])
            printers.append(PrinterConfig(serial=serial, name=f"Simulated X1C #{index + 1}", host="127.0.0.1",
                                          port=broker.port))
        return cls(directory, broker, serials, password_file), printers

    async def run(self) -> None:
        self.broker.spawn()  # from the loop's thread: the broker is tied to this process, not a worker thread
        while not self.broker.listening():
            await asyncio.sleep(BROKER_POLL_S)
        self.broker_up.set()
        command = [sys.executable, "-m", "gateway.printers.simulator", "--port", str(self.broker.port),
                   "--username", SIMULATOR_USERNAME, "--password-file", str(self.password_file),
                   "--rate-hz", str(SIMULATOR_RATE_HZ)]
        for serial in self.serials:
            command += ["--serial", serial, "--x1", serial]  # named "Simulated X1C": they report like an X1
        if len(self.serials) >= DEMO_FAULTY_INDEX + 1:
            command += ["--hms", self.serials[DEMO_FAULTY_INDEX]]  # so the demo shows a normalised HMS code
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, start_new_session=True,
                                   preexec_fn=die_with_parent)
        self.process = process
        log.info("simulated site: mosquitto on 127.0.0.1:%d, %d simulated printers", self.broker.port,
                 len(self.serials))
        try:
            while process.poll() is None:
                await asyncio.sleep(1.0)
            raise RuntimeError(f"printer simulator exited with {process.returncode}")
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    await asyncio.to_thread(process.wait, PROCESS_STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    process.kill()
            await asyncio.to_thread(self.broker.stop)
