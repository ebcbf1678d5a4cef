"""`edge-gateway db stats|export`: look into the telemetry buffer (read-only; the service may be running)."""

from __future__ import annotations

import argparse
import json
import sys

from gateway.cli.common import EXIT_OK, EXIT_USAGE, CliError, config_path, finish_subcommands, load_or_exit
from gateway.telemetry.cursor import CursorError, parse_cursor
from gateway.telemetry.inspect import export_items, read_stats


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("db", help="telemetry buffer: statistics, export")
    commands = parser.add_subparsers(dest="db_command", required=True)
    stats = commands.add_parser("stats", help="size, rows, oldest/newest, acked cursor, drops")
    stats.add_argument("--json", action="store_true", help="one JSON object instead of lines")
    export = commands.add_parser("export", help="items after a cursor as NDJSON on stdout")
    export.add_argument("--after", default=None, help="cursor (default: the acked cursor)")
    finish_subcommands(commands, run)


def run(args: argparse.Namespace) -> int:
    config = load_or_exit(config_path(args))
    path = config.telemetry.db_path(config.gateway.state_dir)
    if args.db_command == "stats":
        stats = read_stats(path)
        if args.json:
            print(json.dumps(stats, sort_keys=True))
        else:
            for key, value in stats.items():
                print(f"{key:18} {json.dumps(value) if isinstance(value, dict) or value is None else value}")
        return EXIT_OK
    try:
        after = parse_cursor(args.after) if args.after is not None else None
        out = sys.stdout
        for item in export_items(path, after):
            out.write(json.dumps(item, allow_nan=False, separators=(",", ":")) + "\n")
    except CursorError as exc:
        raise CliError(f"--after: {exc.message}", EXIT_USAGE) from None
    return EXIT_OK
