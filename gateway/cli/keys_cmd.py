"""`edge-gateway keys list|rotate|revoke KID`: the token-signing keys."""

from __future__ import annotations

import argparse
import asyncio
import time

from gateway.cli.common import EXIT_OK, CliError, config_path, finish_subcommands, load_or_exit, local_state
from gateway.config.models import GatewayConfig


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("keys", help="token-signing keys: list, rotate, revoke")
    commands = parser.add_subparsers(dest="keys_command", required=True)
    commands.add_parser("list", help="list signing keys and their status")
    commands.add_parser("rotate", help="new key signs; old keys verify until their tokens expire")
    revoke = commands.add_parser("revoke", help="revoke a key: every token it signed stops working")
    revoke.add_argument("kid")
    finish_subcommands(commands, run)


def run(args: argparse.Namespace) -> int:
    config = load_or_exit(config_path(args))
    return asyncio.run(_run(args, config))


async def _run(args: argparse.Namespace, config: GatewayConfig) -> int:
    async with local_state(config) as state:
        keyring = state.keyring
        if args.keys_command == "rotate":
            old = keyring.active_kid
            new = keyring.rotate(retain_s=config.auth.max_ttl_s)
            await state.record("keys.rotate", target=new.kid, retired=old)
            print(f"new signing key {new.kid}; {old} retired (verifies its tokens until they expire)")
        elif args.keys_command == "revoke":
            try:
                info = keyring.revoke(args.kid)
            except KeyError:
                raise CliError(f"no signing key {args.kid!r}") from None
            await state.record("keys.revoke", target=info.kid, active_now=keyring.active_kid)
            print(f"revoked key {info.kid}; its tokens no longer verify; active key is {keyring.active_kid}")
        else:
            print(f"{'KID':16} {'STATUS':8} CREATED (UTC)")
            for key in keyring.keys():
                created = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(key.created_at))
                print(f"{key.kid:16} {key.status:8} {created}")
    return EXIT_OK
