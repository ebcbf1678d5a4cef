"""The first admin token: issued by the first provisioning run, handed back once, never stored.

Only its id (jti) is kept, in the state directory, so a later run knows it was issued and issues
none. Further tokens come from `edge-gateway token issue`.
"""

from __future__ import annotations

import asyncio

from gateway.cli.token_cmd import issue_token
from gateway.config.models import GatewayConfig
from provisioning import const
from provisioning.files import Changes, write_file
from provisioning.layout import Layout
from provisioning.users import Accounts


def issue_first_admin_token(layout: Layout, config: GatewayConfig, accounts: Accounts,
                            changes: Changes) -> str | None:
    """The token (for the caller to print once), or None if the first run already issued it."""
    if layout.admin_token_record.exists():
        return None
    token, info = asyncio.run(issue_token(config, const.ADMIN_TOKEN_SUB, "admin", config.auth.default_ttl_s))
    write_file(layout.admin_token_record, f"{info['jti']}\n".encode(), const.SECRET_FILE_MODE, accounts.service,
               changes, what="id of the first admin token")
    changes.record("issued", layout.state_dir, f"first admin token, jti {info['jti']}")
    return token
