"""The device's identity and keys: gateway id, Ed25519 token-signing keys, the secrets-encryption key.

The signing keys are the gateway's own keyring (`gateway.auth.keyring`); the secrets key is the Fernet
key of `gateway.secrets` (`load_or_create_key`). Neither is ever read back into a message.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path

from gateway.auth.keyring import Keyring
from gateway.config.models import is_valid_gateway_id
from gateway.secrets.fernet import load_or_create_key
from provisioning import const
from provisioning.files import Changes, ensure_mode_owner, write_file
from provisioning.layout import Layout
from provisioning.users import Accounts


class IdentityError(Exception):
    """The identity on the device conflicts with what was asked for."""


def ensure_gateway_id(layout: Layout, requested: str | None, accounts: Accounts, changes: Changes) -> str:
    """The gateway id: kept once provisioned (certificates and tokens carry it), else given or generated."""
    path = layout.gateway_id_file
    if path.exists():
        current = path.read_text().strip()
        if not is_valid_gateway_id(current):
            raise IdentityError(f"{layout.device_path(path)}: not a valid gateway id: {current!r}")
        if requested is not None and requested != current:
            raise IdentityError(
                f"this device is already gateway {current!r}; its id does not change (asked for {requested!r})"
            )
        ensure_mode_owner(path, const.PUBLIC_FILE_MODE, accounts.config_owner, changes)
        return current
    gateway_id = requested or const.GATEWAY_ID_PREFIX + secrets.token_hex(const.GATEWAY_ID_RANDOM_BYTES)
    if not is_valid_gateway_id(gateway_id):
        raise IdentityError(f"not a valid gateway id: {gateway_id!r} (lower-case letters, digits, '-')")
    write_file(path, f"{gateway_id}\n".encode(), const.PUBLIC_FILE_MODE, accounts.config_owner, changes,
               what="gateway id")
    return gateway_id


def ensure_signing_keys(layout: Layout, accounts: Accounts, changes: Changes, *, rotate: bool,
                        retain_s: float) -> None:
    """The token-signing keyring with an active key; `rotate` makes a new active key (old ones verify on)."""
    keys_dir = layout.signing_keys_dir
    existed = (keys_dir / "keyring.json").exists()
    with Keyring.open(keys_dir, time.time) as keyring:
        if not existed:
            changes.record("created", keys_dir, f"token-signing key {keyring.active_kid}")
        elif rotate:
            old = keyring.active_kid
            new = keyring.rotate(retain_s=retain_s)
            changes.record("rotated", keys_dir, f"signing key {new.kid} active, {old} retired")


def ensure_secrets_key(layout: Layout, accounts: Accounts, changes: Changes, *, rotate: bool) -> None:
    """The Fernet key that encrypts secrets at rest (0600, the service's).

    Rotation keeps the old key next to it (`secrets.key.retired-<UTC time>`, 0600): values encrypted
    with it must be entered again, and the retired file deleted once they are.
    """
    path = layout.secrets_key
    if rotate and path.exists():
        retired = path.with_name(f"{path.name}.retired-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
        path.rename(retired)
        changes.record("retired", retired, "old secrets key; re-enter the secrets it encrypted")
        changes.note(f"secrets key rotated: re-enter printer access codes, then delete {layout.device_path(retired)}")
    existed = path.exists()
    load_or_create_key(path)
    if not existed:
        changes.record("created", path, f"secrets-encryption key {const.SECRET_FILE_MODE:04o}")
    ensure_mode_owner(path, const.SECRET_FILE_MODE, accounts.service, changes)


def secret_files(layout: Layout) -> list[Path]:
    """Every secret provisioning makes (for checks: each must be 0600 and the service's)."""
    keys = sorted(layout.signing_keys_dir.glob("*.pem"))
    return [layout.server_key, layout.client_key, layout.secrets_key, *keys]
