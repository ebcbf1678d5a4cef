"""`edge-gateway`: the command line of the gateway."""

from __future__ import annotations

import argparse
import sqlite3
import sys

from gateway import __version__
from gateway.cli import audit_cmd, config_cmd, db_cmd, keys_cmd, printers_cmd, provision_cmd, serve_cmd, sync_cmd, token_cmd
from gateway.auth.errors import KeyringError
from gateway.cli.common import EXIT_FAILED, EXIT_USAGE, CliError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edge-gateway", description="Edge gateway for a factory printer VLAN.")
    parser.add_argument("--version", action="version", version=f"edge-gateway {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in (serve_cmd, config_cmd, token_cmd, keys_cmd, audit_cmd, db_cmd, provision_cmd, sync_cmd, printers_cmd):
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except CliError as exc:
        if str(exc):
            print(f"edge-gateway: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return EXIT_FAILED
    except (OSError, KeyringError) as exc:
        print(f"edge-gateway: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except sqlite3.Error as exc:
        print(f"edge-gateway: state database: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
