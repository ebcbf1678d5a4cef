"""`edge-gateway token issue|list|revoke`: tokens managed on the device itself."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

from gateway.auth.const import ROLES
from gateway.auth.tokens import TokenService
from gateway.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    add_config_argument,
    config_path,
    load_or_exit,
    local_state,
    parse_duration_s,
)
from gateway.config.models import GatewayConfig


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("token", help="issue, list and revoke API tokens")
    commands = parser.add_subparsers(dest="token_command", required=True)
    issue = commands.add_parser("issue", help="issue a token (printed once, on stdout)")
    issue.add_argument("--sub", required=True, help="who the token is for")
    issue.add_argument("--role", required=True, choices=ROLES)
    issue.add_argument("--ttl", type=parse_duration_s, default=None, help="lifetime, e.g. 8h, 30m, 90d")
    issue.add_argument("--json", action="store_true", help="print the token and its claims as JSON")
    listing = commands.add_parser("list", help="list issued tokens")
    listing.add_argument("--all", action="store_true", help="include expired tokens")
    revoke = commands.add_parser("revoke", help="revoke a token by its id (jti)")
    revoke.add_argument("jti")
    for sub in (issue, listing, revoke):
        add_config_argument(sub)
        sub.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = load_or_exit(config_path(args))
    return asyncio.run(_run(args, config))


async def issue_token(config: GatewayConfig, sub: str, role: str, ttl_s: int | None) -> tuple[str, dict[str, object]]:
    """Issue, record and audit a token. Shared with `demo`, which prints a ready admin token."""
    async with local_state(config) as state:
        service = TokenService(state.keyring, config.gateway.id, time.time, leeway_s=config.auth.leeway_s,
                               max_ttl_s=config.auth.max_ttl_s)
        try:
            token, claims = service.issue(sub, role, ttl_s or config.auth.default_ttl_s)
        except ValueError as exc:
            raise CliError(str(exc), 2) from None
        await state.registry.record_issued(claims.jti, claims.sub, claims.role, claims.kid, claims.iat, claims.exp)
        await state.record("tokens.issue", target=claims.jti, sub=claims.sub, role=claims.role, ttl_s=claims.exp - claims.iat)
        return token, {"jti": claims.jti, "sub": claims.sub, "role": claims.role, "kid": claims.kid,
                       "issued_at": claims.iat, "expires_at": claims.exp}


async def _run(args: argparse.Namespace, config: GatewayConfig) -> int:
    if args.token_command == "issue":
        token, info = await issue_token(config, args.sub, args.role, args.ttl)
        if args.json:
            print(json.dumps({"token": token, **info}))
        else:
            print(token)
            expires = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(int(info["expires_at"])))  # type: ignore[arg-type]
            print(f"issued {info['role']} token for {info['sub']} (jti {info['jti']}), expires {expires}", file=sys.stderr)
        return EXIT_OK
    async with local_state(config) as state:
        if args.token_command == "list":
            records = await state.registry.list_tokens(include_expired=args.all)
            print(f"{'JTI':24} {'SUB':20} {'ROLE':11} {'KID':14} {'EXPIRES (UTC)':20} REVOKED")
            for r in records:
                expires = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r.exp))
                print(f"{r.jti:24} {r.sub:20} {r.role:11} {r.kid:14} {expires:20} {'yes' if r.revoked_at else 'no'}")
            return EXIT_OK
        try:
            newly = await state.registry.revoke(args.jti)
        except ValueError as exc:
            raise CliError(str(exc), EXIT_USAGE) from None
        known = any(r.jti == args.jti for r in await state.registry.list_tokens(include_expired=True))
        await state.record("tokens.revoke", target=args.jti, already_revoked=not newly, known=known)
        print(f"revoked {args.jti}" if newly else f"{args.jti} was already revoked")
        if not known:
            print(f"note: no token with id {args.jti} was issued here; the id is refused all the same",
                  file=sys.stderr)
        return EXIT_OK
