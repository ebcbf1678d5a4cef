"""One provisioning run: every step in order, each idempotent. Composition of provisioning happens here.

Under a root other than `/`, the device paths are placed below it and the config names those placed
paths, so the staged tree is usable where it lies (tests run the service from it). On a device the
root is `/` and the paths are the device's own.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from gateway.auth.errors import KeyringError
from gateway.secrets.fernet import SecretError
from provisioning import const
from provisioning.answers import SiteAnswers
from provisioning.certificates import ensure_client_identity, ensure_server_tls
from provisioning.config_render import RenderedConfigError, ensure_config
from provisioning.dirs import ensure_directories, own_state_tree
from provisioning.files import Changes
from provisioning.first_token import issue_first_admin_token
from provisioning.identity import IdentityError, ensure_gateway_id, ensure_secrets_key, ensure_signing_keys
from provisioning.layout import Layout
from provisioning.udev import ensure_udev_rule
from provisioning.unit import UnitError, ensure_unit
from provisioning.users import AccountError, ensure_accounts

PROVISIONING_ERRORS = (OSError, AccountError, IdentityError, RenderedConfigError, UnitError, KeyringError,
                       SecretError, ValueError)
"""What a run can fail with for a reason the operator can act on; each says what and where."""


@dataclass(frozen=True)
class ProvisionResult:
    gateway_id: str
    changes: Changes
    admin_token: str | None
    """The first admin token, on the first run only: print it once, store it nowhere."""


def provision(root: Path, answers: SiteAnswers, rotate: Collection[str] = ()) -> ProvisionResult:
    unknown = set(rotate) - set(const.ROTATABLE)
    if unknown:
        raise ValueError(f"cannot rotate {', '.join(sorted(unknown))} (choose from {', '.join(const.ROTATABLE)})")
    layout = Layout(root.resolve())
    changes = Changes(layout)
    previous_umask = os.umask(const.PROVISIONING_UMASK)
    try:
        accounts = ensure_accounts(layout, changes)
        ensure_directories(layout, accounts, changes)
        gateway_id = ensure_gateway_id(layout, answers.gateway_id, accounts, changes)
        hosts = [host for host, _ in answers.listen_addresses()] + list(answers.tls_hosts)
        ensure_server_tls(layout, gateway_id, hosts, accounts, changes, rotate="tls" in rotate)
        ensure_client_identity(layout, gateway_id, accounts, changes, rotate="client" in rotate)
        ensure_secrets_key(layout, accounts, changes, rotate="secrets-key" in rotate)
        config = ensure_config(layout, gateway_id, answers, accounts, changes)
        ensure_signing_keys(layout, accounts, changes, rotate="signing-key" in rotate,
                            retain_s=config.auth.max_ttl_s)
        ensure_udev_rule(layout, answers, changes)
        ensure_unit(layout, changes, answers=answers)
        token = issue_first_admin_token(layout, config, accounts, changes)
        own_state_tree(layout, accounts, changes)
    finally:
        os.umask(previous_umask)
    return ProvisionResult(gateway_id, changes, token)
