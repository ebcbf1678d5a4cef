"""Configuration and state directories with tight modes, and ownership of what the state holds."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from provisioning import const
from provisioning.files import Changes, ensure_dir, ensure_mode_owner
from provisioning.layout import Layout
from provisioning.users import Accounts


def ensure_directories(layout: Layout, accounts: Accounts, changes: Changes) -> None:
    """/etc/edge-gateway and its tls/ (0750 root:edge-gateway), /var/lib/edge-gateway and keys/ (0700)."""
    ensure_dir(layout.config_dir, const.CONFIG_DIR_MODE, accounts.config_owner, changes)
    ensure_dir(layout.tls_dir, const.CONFIG_DIR_MODE, accounts.config_owner, changes)
    ensure_dir(layout.state_dir, const.STATE_DIR_MODE, accounts.service, changes)
    ensure_dir(layout.signing_keys_dir, const.STATE_DIR_MODE, accounts.service, changes)


def own_state_tree(layout: Layout, accounts: Accounts, changes: Changes) -> None:
    """Everything in the state directory belongs to the service user and nobody else may read it.

    Provisioning runs as root and creates the state database and keys; the service must own them.
    Group and other permission bits are removed; the owner's bits are kept.
    """
    for directory, subdirs, files in os.walk(layout.state_dir):
        base = Path(directory)
        for name in [*subdirs, *files]:
            path = base / name
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                continue
            mode = const.STATE_DIR_MODE if stat.S_ISDIR(st.st_mode) else stat.S_IMODE(st.st_mode) & 0o700
            ensure_mode_owner(path, mode, accounts.service, changes)
