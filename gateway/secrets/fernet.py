"""Encrypting small secrets at rest (printer access codes, provisioning secrets) with one Fernet key.

The key lives in a file (default `<state_dir>/secrets.key`, mode 0600), created on first use. The
ciphertext is a URL-safe text token that may be stored in config files or state files. Plaintext is
never logged; a wrong key or a damaged token raises `SecretError` without echoing either.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

KEY_FILE_MODE = 0o600
KEY_DIR_MODE = 0o700


class SecretError(Exception):
    """A key file or an encrypted value could not be used (the message never contains secrets)."""


def load_or_create_key(path: Path) -> bytes:
    """The Fernet key in `path`; a new key is written there (0600, atomically) when the file is missing."""
    try:
        key = path.read_bytes().strip()
    except FileNotFoundError:
        return _create_key(path)
    if path.stat().st_mode & 0o077:
        os.chmod(path, KEY_FILE_MODE)
    try:
        Fernet(key)
    except ValueError:
        raise SecretError(f"{path}: not a Fernet key (32 url-safe base64-encoded bytes)") from None
    return key


def _create_key(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True, mode=KEY_DIR_MODE)
    key = Fernet.generate_key()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_FILE_MODE)
    try:
        os.write(fd, key + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # never replaces a key another process created meanwhile
    except FileExistsError:
        tmp.unlink()
        return load_or_create_key(path)
    tmp.unlink()
    return key


def encrypt(key: bytes, plaintext: str) -> str:
    """The secret as a Fernet token (text)."""
    return Fernet(key).encrypt(plaintext.encode()).decode("ascii")


def decrypt(key: bytes, token: str) -> str:
    """The secret behind a token made by `encrypt` with the same key."""
    try:
        return Fernet(key).decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeError, ValueError):
        raise SecretError("encrypted value cannot be decrypted with this key (wrong key or damaged value)") from None
