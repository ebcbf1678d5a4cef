"""`edge-gateway audit verify|list`: the hash-chained audit log."""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from gateway.audit.const import AUDIT_LIST_MAX_LIMIT
from gateway.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    bounded_int,
    config_path,
    finish_subcommands,
    load_or_exit,
    local_state,
)
from gateway.config.models import GatewayConfig


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("audit", help="verify or list the audit log")
    commands = parser.add_subparsers(dest="audit_command", required=True)
    commands.add_parser("verify", help="recompute the hash chain; name the first broken entry")
    listing = commands.add_parser("list", help="newest entries first")
    listing.add_argument("--limit", type=bounded_int(1, AUDIT_LIST_MAX_LIMIT), default=20)
    finish_subcommands(commands, run)


def run(args: argparse.Namespace) -> int:
    config = load_or_exit(config_path(args))
    return asyncio.run(_run(args, config))


async def _run(args: argparse.Namespace, config: GatewayConfig) -> int:
    async with local_state(config) as state:
        if args.audit_command == "verify":
            result = await state.audit.verify()
            if result.ok:
                print(f"audit log ok: {result.checked} entries, chain intact")
                return EXIT_OK
            print(f"audit log BROKEN at entry {result.first_broken_id}: {result.reason} "
                  f"({result.checked} entries checked)")
            return EXIT_FAILED
        for entry in await state.audit.list(limit=args.limit):
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(entry.ts))
            print(f"{entry.id:6} {when} {entry.action:18} {entry.outcome:8} {entry.actor or '-':20} "
                  f"{entry.client or '-':16} {entry.target or '-'} {json.dumps(dict(entry.details), sort_keys=True)}")
    return EXIT_OK
