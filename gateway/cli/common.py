"""Shared pieces of the CLI commands: config loading, durations, state access, exit codes."""

from __future__ import annotations

import argparse
import getpass
import os
import re
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

from gateway.audit.model import AuditEvent
from gateway.audit.store import AuditLog
from gateway.auth.keyring import Keyring
from gateway.config.loader import ConfigError, load_config
from gateway.config.models import GatewayConfig
from gateway.factory import ensure_private_dir
from gateway.statedb.connection import close_state_db, open_state_db
from gateway.statedb.tokens import TokenRegistry

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

DEFAULT_CONFIG_PATH = Path("/etc/edge-gateway/config.toml")
CONFIG_PATH_ENV = "EDGE_GATEWAY_CONFIG"
DURATION_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DURATION_PATTERN = re.compile(r"^(\d+)([smhd]?)$")


class CliError(Exception):
    """A failure the user should read as one line; `exit_code` says which."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, default=None,
        help=f"config file (default: ${CONFIG_PATH_ENV} or {DEFAULT_CONFIG_PATH})",
    )


def finish_subcommands(commands: argparse._SubParsersAction, run: Callable[[argparse.Namespace], int]) -> None:
    """Every subcommand of a command group takes --config and is run by the group's `run`."""
    for sub in commands.choices.values():
        add_config_argument(sub)
        sub.set_defaults(func=run)


def config_path(args: argparse.Namespace) -> Path:
    return args.config or Path(os.environ.get(CONFIG_PATH_ENV, DEFAULT_CONFIG_PATH))


def print_config_error(error: ConfigError) -> None:
    print(f"{error.source}: configuration is not valid ({len(error.issues)} problem(s)):", file=sys.stderr)
    for issue in error.issues:
        print(f"  {issue}", file=sys.stderr)


def load_or_exit(path: Path) -> GatewayConfig:
    try:
        return load_config(path, os.environ)
    except ConfigError as error:
        print_config_error(error)
        raise CliError("", EXIT_USAGE) from None


def parse_duration_s(text: str) -> int:
    """'8h' -> 28800, '30m', '90d', '3600' (seconds)."""
    match = DURATION_PATTERN.fullmatch(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (use e.g. 3600, 30m, 8h, 90d)")
    return int(match.group(1)) * DURATION_UNITS_S[match.group(2) or "s"]


def bounded_int(low: int, high: int):  # noqa: ANN201 - an argparse type
    """An argparse type: a whole number from `low` to `high`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}")
        return value

    return parse


def cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no passwd entry for the uid (containers)
        return f"cli:uid{os.getuid()}"


@dataclass
class LocalState:
    """The gateway's state, opened by a CLI command (the service may be running at the same time)."""

    config: GatewayConfig
    db: aiosqlite.Connection
    keyring: Keyring
    registry: TokenRegistry
    audit: AuditLog

    async def record(self, action: str, *, target: str | None = None, outcome: str = "ok", **details: object) -> None:
        await self.audit.append(
            AuditEvent(action=action, outcome=outcome, actor=cli_actor(), jti=None, client="local",
                       target=target, details=details)
        )


@asynccontextmanager
async def local_state(config: GatewayConfig) -> AsyncIterator[LocalState]:
    import time

    ensure_private_dir(config.gateway.state_dir)
    db = await open_state_db(config.state_db_path)
    try:
        keyring = Keyring.open(config.signing_keys_dir, time.time)
        yield LocalState(config, db, keyring, TokenRegistry(db, time.time), AuditLog(db, time.time))
    finally:
        await close_state_db(db)
