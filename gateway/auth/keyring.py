"""Ed25519 token-signing keys, each with a ``kid``, kept in one directory.

Layout of ``keys_dir`` (mode 0700)::

    <kid>.pem       PKCS8 PEM private key, mode 0600 (absent once the key is revoked or pruned)
    keyring.json    metadata of every key: kid, status, timestamps; mode 0600
    keyring.lock    advisory lock shared by the server and the CLI

Exactly one key is ``active`` (it signs new tokens). ``rotate()`` retires it: a retired key still
verifies the tokens it signed until they have expired, then it is pruned. A ``revoked`` key verifies
nothing; its private key file is deleted at once.

Every write is atomic (a 0600 temporary file in the same directory, fsync, ``os.replace``, fsync of the
directory). Writers (rotate, revoke, first key, pruning) hold an exclusive ``flock`` and re-read the
metadata from disk under it, so the server and the CLI never lose each other's changes; readers hold
a shared lock so they never see a key file half-way through a prune. Timestamps come from the
injected wall clock.
"""

from __future__ import annotations

import fcntl
import math
import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gateway.auth.const import KEYRING_DIR_MODE, KEYRING_FILE_MAX_BYTES, KEYRING_FILE_MODE, Clock
from gateway.auth.errors import AuthError, KeyringError
from gateway.auth.keyring_files import (
    LOCK_NAME,
    METADATA_NAME,
    KeyEntry,
    KeyInfo,
    decode_metadata,
    encode_metadata,
    fsync_dir,
    new_kid,
    open_private_file,
    read_all,
    stat_key,
    write_atomic,
)

__all__ = ["Clock", "KeyInfo", "Keyring", "KeyringError", "UnknownKeyError"]

_T = TypeVar("_T")


class UnknownKeyError(KeyringError, KeyError):
    """``revoke()`` was given a kid the keyring does not hold."""

    def __str__(self) -> str:
        """Plain message (``KeyError`` would quote it)."""
        return str(self.args[0]) if self.args else "unknown key id"


@dataclass(frozen=True)
class _Loaded:
    """An immutable snapshot of the keyring, swapped in whole on every (re)load."""

    entries: dict[str, KeyEntry]
    private_keys: dict[str, Ed25519PrivateKey]
    public_keys: dict[str, Ed25519PublicKey]
    active_kid: str
    stat_key: tuple[int, int, int, int]


class Keyring:
    """The gateway's token-signing keys. Create it with ``Keyring.open()``."""

    def __init__(self, keys_dir: Path, clock: Clock) -> None:
        """Bind to ``keys_dir`` without reading it; use ``Keyring.open()`` instead."""
        self._dir = Path(keys_dir)
        self._clock = clock
        self._state: _Loaded | None = None
        self._held_fd: int | None = None  # keeps the loaded metadata inode alive so it cannot be reused

    # --- construction ------------------------------------------------------------------------------
    @classmethod
    def open(cls, keys_dir: Path, clock: Clock, *, create: bool = True) -> Keyring:
        """Load the keyring in ``keys_dir``; with ``create``, make the directory and a first key if absent.

        Raises ``KeyringError`` if the keyring is missing (and ``create`` is false), corrupt,
        unreadable, or if the directory or a file in it is open to other users.
        """
        keyring = cls(keys_dir, clock)
        keyring._prepare_dir(create)
        metadata = keyring._dir / METADATA_NAME
        if not metadata.exists():
            if not create:
                raise KeyringError(f"{metadata}: no keyring (create it first)")
            keyring._mutate(keyring._ensure_first_key)
        else:
            keyring._reload()
        keyring._prune_due()
        return keyring

    def close(self) -> None:
        """Release the file descriptor held on the loaded metadata. The keys stay usable."""
        if self._held_fd is not None:
            os.close(self._held_fd)
            self._held_fd = None

    def __enter__(self) -> Keyring:
        """Use as a context manager that closes the keyring."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close the keyring."""
        self.close()

    def __del__(self) -> None:
        """Do not leak the held descriptor."""
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from a finalizer
            pass

    # --- queries ---------------------------------------------------------------------------------
    @property
    def active_kid(self) -> str:
        """Id of the key that signs new tokens."""
        return self._loaded.active_kid

    def signing_key(self) -> tuple[str, Ed25519PrivateKey]:
        """The active key and its id."""
        state = self._loaded
        return state.active_kid, state.private_keys[state.active_kid]

    def verification_key(self, kid: str) -> Ed25519PublicKey:
        """Public key for a token's ``kid``: active and retired keys verify, revoked ones do not.

        Raises ``AuthError("unknown_kid")`` or ``AuthError("revoked_key")``.
        """
        state = self._loaded
        entry = state.entries.get(kid) if isinstance(kid, str) else None
        if entry is None:
            raise AuthError("unknown_kid")
        if entry.info.status == "revoked":
            raise AuthError("revoked_key")
        return state.public_keys[kid]

    def keys(self) -> list[KeyInfo]:
        """Metadata of every key still known, oldest first."""
        return sorted((e.info for e in self._loaded.entries.values()), key=lambda i: (i.created_at, i.kid))

    # --- changes ---------------------------------------------------------------------------------
    def rotate(self, *, retain_s: float) -> KeyInfo:
        """Make a new active key; the previous one is retired and kept for ``retain_s`` seconds.

        ``retain_s`` must be at least the longest token lifetime, so a retired key outlives its last
        token. Retired (and revoked) keys whose ``retired_at`` (``revoked_at``) + ``retain_s`` has
        passed are pruned. Returns the new key's metadata.
        """
        if not math.isfinite(retain_s) or retain_s < 0:
            raise ValueError("retain_s must be a finite number of seconds >= 0")

        def change(entries: dict[str, KeyEntry], now: float) -> KeyInfo:
            for kid, entry in list(entries.items()):
                if entry.info.status == "active":
                    info = replace(entry.info, status="retired", retired_at=now)
                    entries[kid] = KeyEntry(info, prune_at=now + retain_s)
            self._prune_entries(entries, now, retain_s)
            return self._add_key(entries, now)

        return self._mutate(change)

    def revoke(self, kid: str) -> KeyInfo:
        """Revoke ``kid`` at once: its tokens stop verifying and its private key file is deleted.

        Revoking the active key makes a new active key immediately. Revoking a revoked key changes
        nothing. Raises ``UnknownKeyError`` (a ``KeyringError`` and a ``KeyError``) for an unknown kid.
        Other processes using the same directory pick the change up on ``reload_if_changed()``.
        """

        def change(entries: dict[str, KeyEntry], now: float) -> KeyInfo:
            entry = entries.get(kid)
            if entry is None:
                raise UnknownKeyError(f"no key with id {kid!r} in {self._dir}")
            if entry.info.status == "revoked":
                return entry.info
            info = replace(entry.info, status="revoked", revoked_at=now)
            entries[kid] = KeyEntry(info)
            if entry.info.status == "active":
                self._add_key(entries, now)
            return info

        return self._mutate(change)

    def reload_if_changed(self) -> bool:
        """Reload if another process changed the keyring; also prune retired keys that are due.

        Costs one ``stat`` when nothing changed. Returns whether the keys were reloaded. On failure
        the keys loaded before stay in force and ``KeyringError`` is raised.
        """
        try:
            st = os.stat(self._dir / METADATA_NAME)
        except OSError as exc:
            raise KeyringError(f"{self._dir / METADATA_NAME}: cannot stat keyring ({exc.strerror})") from None
        changed = stat_key(st) != self._loaded.stat_key
        if changed:
            self._reload()
        return self._prune_due() or changed

    # --- internals: state ------------------------------------------------------------------------
    @property
    def _loaded(self) -> _Loaded:
        if self._state is None:
            raise KeyringError("keyring not loaded; use Keyring.open()")
        return self._state

    def _prepare_dir(self, create: bool) -> None:
        if not self._dir.exists():
            if not create:
                raise KeyringError(f"{self._dir}: keys directory does not exist")
            self._dir.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._dir.mkdir(mode=KEYRING_DIR_MODE)
            except FileExistsError:
                pass
            else:
                os.chmod(self._dir, KEYRING_DIR_MODE)  # mkdir's mode is reduced by the umask only
        st = os.stat(self._dir)
        if not stat.S_ISDIR(st.st_mode):
            raise KeyringError(f"{self._dir}: keys path is not a directory")
        if st.st_mode & 0o022:
            raise KeyringError(
                f"{self._dir}: keys directory is writable by other users "
                f"(mode {stat.S_IMODE(st.st_mode):04o}); chmod {KEYRING_DIR_MODE:04o} it"
            )

    def _reload(self) -> None:
        with self._lock(exclusive=False):
            self._load_locked()

    def _load_locked(self) -> None:
        """Read metadata and keys into a new snapshot; the old one stays if anything fails."""
        fd, entries, stat_key = self._read_metadata()
        try:
            private: dict[str, Ed25519PrivateKey] = {}
            public: dict[str, Ed25519PublicKey] = {}
            for kid, entry in entries.items():
                if entry.info.status != "revoked":
                    private[kid] = self._read_private_key(kid)
                    public[kid] = private[kid].public_key()
            active = [kid for kid, e in entries.items() if e.info.status == "active"]
            if len(active) != 1:
                raise KeyringError(f"{self._dir / METADATA_NAME}: corrupt keyring: {len(active)} active keys, need 1")
        except BaseException:
            os.close(fd)
            raise
        self._state = _Loaded(entries, private, public, active[0], stat_key)
        self.close()
        self._held_fd = fd

    def _prune_due(self) -> bool:
        """Prune retired keys whose retention ended; returns whether anything was pruned."""
        now = self._clock()
        due = any(
            e.info.status == "retired" and e.prune_at is not None and e.prune_at <= now
            for e in self._loaded.entries.values()
        )
        if due:
            self._mutate(lambda entries, at: self._prune_entries(entries, at, None))
        return due

    # --- internals: changes ----------------------------------------------------------------------
    def _mutate(self, change: Callable[[dict[str, KeyEntry], float], _T]) -> _T:
        """Apply ``change`` to a fresh copy of the on-disk metadata under the exclusive lock."""
        with self._lock(exclusive=True):
            metadata = self._dir / METADATA_NAME
            if metadata.exists():
                fd, entries, _ = self._read_metadata()
                os.close(fd)
            else:
                entries = {}
            before = dict(entries)
            result = change(entries, self._clock())
            if entries != before:
                write_atomic(self._dir, METADATA_NAME, encode_metadata(entries))
            self._remove_unused_files(entries)
            self._load_locked()
        return result

    def _ensure_first_key(self, entries: dict[str, KeyEntry], now: float) -> None:
        if not any(e.info.status == "active" for e in entries.values()):
            self._add_key(entries, now)

    def _add_key(self, entries: dict[str, KeyEntry], now: float) -> KeyInfo:
        """Generate a key, write its file, and add it to ``entries`` as the active key."""
        kid = new_kid()
        while kid in entries or (self._dir / f"{kid}.pem").exists():
            kid = new_kid()
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        write_atomic(self._dir, f"{kid}.pem", pem)
        info = KeyInfo(kid=kid, status="active", created_at=now, retired_at=None, revoked_at=None)
        entries[kid] = KeyEntry(info)
        return info

    @staticmethod
    def _prune_entries(entries: dict[str, KeyEntry], now: float, retain_s: float | None) -> None:
        """Drop retired keys past their retention (and, given ``retain_s``, revoked keys past it)."""
        for kid, entry in list(entries.items()):
            info = entry.info
            if info.status == "retired" and info.retired_at is not None:
                deadline = entry.prune_at if entry.prune_at is not None else info.retired_at
                if retain_s is not None:
                    deadline = max(deadline, info.retired_at + retain_s)
                if deadline <= now:
                    del entries[kid]
            elif info.status == "revoked" and retain_s is not None and info.revoked_at is not None:
                if info.revoked_at + retain_s <= now:
                    del entries[kid]

    def _remove_unused_files(self, entries: dict[str, KeyEntry]) -> None:
        """Delete key files of revoked/pruned keys and temporaries left by a crash (lock held)."""
        keep = {f"{kid}.pem" for kid, e in entries.items() if e.info.status != "revoked"}
        for path in self._dir.iterdir():
            name = path.name
            if (name.endswith(".pem") and name not in keep) or (name.startswith(".") and name.endswith(".tmp")):
                path.unlink(missing_ok=True)
        fsync_dir(self._dir)

    # --- internals: files ------------------------------------------------------------------------
    @contextmanager
    def _lock(self, *, exclusive: bool) -> Iterator[None]:
        path = self._dir / LOCK_NAME
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, KEYRING_FILE_MODE)
        except OSError as exc:
            raise KeyringError(f"{path}: cannot open lock file ({exc.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _read_metadata(self) -> tuple[int, dict[str, KeyEntry], tuple[int, int, int, int]]:
        """Open and parse keyring.json; returns the still-open descriptor, entries and stat key."""
        path = self._dir / METADATA_NAME
        fd = open_private_file(path)
        try:
            st = os.fstat(fd)
            if st.st_size > KEYRING_FILE_MAX_BYTES:
                raise KeyringError(f"{path}: corrupt keyring: file too large")
            raw = read_all(fd, path)
            entries = decode_metadata(raw, path)
        except BaseException:
            os.close(fd)
            raise
        return fd, entries, stat_key(st)

    def _read_private_key(self, kid: str) -> Ed25519PrivateKey:
        path = self._dir / f"{kid}.pem"
        fd = open_private_file(path)
        try:
            data = read_all(fd, path)
        finally:
            os.close(fd)
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise KeyringError(f"{path}: not a readable unencrypted PEM private key") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyringError(f"{path}: not an Ed25519 private key")
        return key
