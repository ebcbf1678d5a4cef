"""Printer credentials kept in the state directory: encrypted access codes and certificate pins.

One JSON file (`<state_dir>/printers.json`, 0600), written atomically by the CLI and read by the
service at start. Access codes are stored only as Fernet tokens; this module hands out plaintext only
through `access_code()`, to the driver that sends it to the printer.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from gateway.printers.config import PrinterConfig
from gateway.secrets.fernet import decrypt, encrypt

STORE_FILE_NAME = "printers.json"
STORE_FILE_MODE = 0o600


class CredentialError(Exception):
    """The store file is damaged, or a code cannot be decrypted (never contains a secret)."""


@dataclass(frozen=True)
class StoredPrinter:
    access_code_encrypted: str | None = None
    pin_sha256: str | None = None
    pin_common_name: str | None = None


class CredentialStore:
    def __init__(self, path: Path, key: bytes) -> None:
        self.path = path
        self._key = key

    def _load(self) -> dict[str, dict[str, str]]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (ValueError, OSError) as exc:
            raise CredentialError(f"{self.path}: unreadable ({type(exc).__name__})") from None
        if not isinstance(data, dict):
            raise CredentialError(f"{self.path}: not a JSON object")
        return {str(k): v for k, v in data.items() if isinstance(v, dict)}

    def _save(self, data: dict[str, dict[str, str]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, STORE_FILE_MODE)
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)

    def get(self, serial: str) -> StoredPrinter:
        entry = self._load().get(serial, {})
        return StoredPrinter(entry.get("access_code_encrypted"), entry.get("pin_sha256"), entry.get("pin_common_name"))

    def set_access_code(self, serial: str, access_code: str) -> None:
        data = self._load()
        data.setdefault(serial, {})["access_code_encrypted"] = encrypt(self._key, access_code)
        self._save(data)

    def set_pin(self, serial: str, sha256_hex: str, common_name: str | None) -> None:
        data = self._load()
        entry = data.setdefault(serial, {})
        entry["pin_sha256"] = sha256_hex
        if common_name is not None:
            entry["pin_common_name"] = common_name
        self._save(data)

    def encrypt(self, access_code: str) -> str:
        return encrypt(self._key, access_code)

    def access_code(self, printer: PrinterConfig) -> str | None:
        """The plaintext access code (config first, then the store), or None when none is set."""
        token = printer.access_code_encrypted or self.get(printer.serial).access_code_encrypted
        return None if token is None else decrypt(self._key, token)

    def pin(self, printer: PrinterConfig) -> str | None:
        return printer.pin_sha256 or self.get(printer.serial).pin_sha256
