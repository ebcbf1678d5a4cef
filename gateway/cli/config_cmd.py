"""`edge-gateway check-config PATH`: every problem with its key path, exit 2 if any."""

from __future__ import annotations

import argparse
from pathlib import Path

from gateway.cli.common import EXIT_OK, load_or_exit


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("check-config", help="validate a config file and print every problem")
    parser.add_argument("path", type=Path)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = load_or_exit(args.path)
    listen = ", ".join(f"{a.host}:{a.port}" for a in config.http.listen)
    scheme = "https" if config.http.tls else "http (loopback only)"
    print(f"{args.path}: ok (gateway {config.gateway.id}, {scheme} on {listen}, state in {config.gateway.state_dir})")
    return EXIT_OK
