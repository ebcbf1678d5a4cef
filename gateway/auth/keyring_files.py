"""Files of the signing keyring: metadata format, private-file reads, atomic 0600 writes.

Pure helpers without state, used by ``gateway.auth.keyring`` (which holds the locking and the logic).
The layout is described there.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from gateway.auth.const import KEY_ID_BYTES, KEY_ID_MAX_CHARS, KEYRING_FILE_MAX_BYTES, KEYRING_FILE_MODE
from gateway.auth.errors import KeyringError

KeyStatus = Literal["active", "retired", "revoked"]
STATUSES: tuple[str, ...] = ("active", "retired", "revoked")
METADATA_NAME = "keyring.json"
LOCK_NAME = "keyring.lock"
FORMAT_VERSION = 1
KID_PATTERN = re.compile(rf"^[A-Za-z0-9_-]{{1,{KEY_ID_MAX_CHARS}}}$")


@dataclass(frozen=True)
class KeyInfo:
    """Public metadata of one signing key (never the key itself)."""

    kid: str
    status: str
    created_at: float
    retired_at: float | None
    revoked_at: float | None


@dataclass(frozen=True)
class KeyEntry:
    """One key's persisted metadata; ``prune_at`` is when a retired key may be deleted."""

    info: KeyInfo
    prune_at: float | None = None


def new_kid() -> str:
    return secrets.token_urlsafe(KEY_ID_BYTES)


def stat_key(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


def open_private_file(path: Path) -> int:
    """Open a regular file for reading, refusing symlinks and modes open to other users."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        raise KeyringError(f"{path}: missing") from None
    except OSError as exc:
        raise KeyringError(f"{path}: cannot open ({exc.strerror})") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise KeyringError(f"{path}: not a regular file")
    if st.st_mode & 0o077:
        os.close(fd)
        raise KeyringError(
            f"{path}: permissions {stat.S_IMODE(st.st_mode):04o} are too open; "
            f"it must be {KEYRING_FILE_MODE:04o} (chmod {KEYRING_FILE_MODE:o} it)"
        )
    return fd


def read_all(fd: int, path: Path) -> bytes:
    chunks: list[bytes] = []
    total = 0
    try:
        while chunk := os.read(fd, 65536):
            total += len(chunk)
            if total > KEYRING_FILE_MAX_BYTES:
                raise KeyringError(f"{path}: file too large")
            chunks.append(chunk)
    except OSError as exc:
        raise KeyringError(f"{path}: cannot read ({exc.strerror})") from None
    return b"".join(chunks)


def write_atomic(directory: Path, name: str, data: bytes) -> None:
    """Write ``directory/name`` atomically; the file is 0600 from its creation."""
    tmp = directory / f".{name}.{secrets.token_hex(6)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(tmp, flags, KEYRING_FILE_MODE)
        try:
            os.fchmod(fd, KEYRING_FILE_MODE)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, directory / name)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise KeyringError(f"{directory / name}: cannot write ({exc.strerror})") from None
    fsync_dir(directory)


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def encode_metadata(entries: dict[str, KeyEntry]) -> bytes:
    keys = [
        {
            "kid": e.info.kid,
            "status": e.info.status,
            "created_at": e.info.created_at,
            "retired_at": e.info.retired_at,
            "revoked_at": e.info.revoked_at,
            "prune_at": e.prune_at,
        }
        for e in sorted(entries.values(), key=lambda e: (e.info.created_at, e.info.kid))
    ]
    return (json.dumps({"format": FORMAT_VERSION, "keys": keys}, indent=2) + "\n").encode()


def decode_metadata(raw: bytes, path: Path) -> dict[str, KeyEntry]:
    def corrupt(what: str) -> KeyringError:
        return KeyringError(f"{path}: corrupt keyring: {what}")

    try:
        doc: Any = json.loads(raw)
    except (ValueError, RecursionError):
        raise corrupt("not valid JSON") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT_VERSION or not isinstance(doc.get("keys"), list):
        raise corrupt(f"expected an object with format {FORMAT_VERSION} and a list of keys")
    entries: dict[str, KeyEntry] = {}
    for index, item in enumerate(doc["keys"]):
        if not isinstance(item, dict):
            raise corrupt(f"keys[{index}] is not an object")
        kid, status = item.get("kid"), item.get("status")
        if not isinstance(kid, str) or not KID_PATTERN.match(kid):
            raise corrupt(f"keys[{index}].kid is not a valid key id")
        if kid in entries:
            raise corrupt(f"key id {kid!r} appears twice")
        if status not in STATUSES:
            raise corrupt(f"keys[{index}].status must be one of {', '.join(STATUSES)}")
        times: dict[str, float | None] = {}
        for field in ("created_at", "retired_at", "revoked_at", "prune_at"):
            value = item.get(field)
            optional = field != "created_at"
            if value is None and optional:
                times[field] = None
            elif isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                times[field] = float(value)
            else:
                raise corrupt(f"keys[{index}].{field} must be a number{' or null' if optional else ''}")
        if status == "retired" and times["retired_at"] is None:
            raise corrupt(f"keys[{index}] is retired without retired_at")
        if status == "revoked" and times["revoked_at"] is None:
            raise corrupt(f"keys[{index}] is revoked without revoked_at")
        info = KeyInfo(kid, status, times["created_at"] or 0.0, times["retired_at"], times["revoked_at"])
        entries[kid] = KeyEntry(info, times["prune_at"])
    return entries
