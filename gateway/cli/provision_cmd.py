"""`edge-gateway provision [--root DIR]`: make this machine (or a staged tree) an edge-gateway appliance.

Idempotent: a second run changes nothing unless `--rotate` names what to renew. The report names
paths, never secret values; the first admin token is printed once, alone on stdout, on the first run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gateway.cli.common import EXIT_OK, EXIT_USAGE, CliError
from provisioning.answers import AnswersError, load_answers
from provisioning.const import ROTATABLE
from provisioning.run import PROVISIONING_ERRORS, provision


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("provision", help="set up the device: user, keys, certificates, config, unit")
    parser.add_argument("--root", type=Path, default=Path("/"), help="root of the system to provision (default: /)")
    parser.add_argument("--answers", type=Path, default=None, help="site values as TOML (see provisioning/answers.py)")
    parser.add_argument("--gateway-id", default=None, help="gateway id (default: generated gw-<8 hex>)")
    parser.add_argument("--listen", action="append", default=None, metavar="HOST:PORT",
                        help="API address, repeatable (default: 127.0.0.1:8443)")
    parser.add_argument("--tls-host", action="append", dest="tls_hosts", default=None, metavar="NAME",
                        help="extra name or address in the API certificate, repeatable")
    parser.add_argument("--extruder-usb-id", default=None, metavar="VVVV:PPPP",
                        help="USB vendor:product of the extruder controller board")
    parser.add_argument("--extruder-usb-serial", default=None, help="USB serial number of the board")
    parser.add_argument("--rotate", action="append", default=[], choices=ROTATABLE,
                        help="renew this (repeatable): tls, client, signing-key, secrets-key")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    overrides = {"gateway_id": args.gateway_id, "listen": args.listen, "tls_hosts": args.tls_hosts,
                 "extruder_usb_id": args.extruder_usb_id, "extruder_usb_serial": args.extruder_usb_serial}
    try:
        answers = load_answers(args.answers, overrides)
    except AnswersError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    try:
        result = provision(args.root, answers, rotate=args.rotate)
    except PROVISIONING_ERRORS as exc:  # one line naming what and where, never a traceback
        raise CliError(f"provisioning failed: {exc}") from None
    changes = result.changes
    for line in changes.lines:
        print(line, file=sys.stderr)
    for note in changes.notes:
        print(f"note: {note}", file=sys.stderr)
    summary = "provisioned" if changes.changed else "already provisioned, nothing changed:"
    print(f"{summary} gateway {result.gateway_id} in {args.root}", file=sys.stderr)
    if result.admin_token is not None:
        print("first admin token (shown this once; store it in your password manager):", file=sys.stderr)
        print(result.admin_token, flush=True)
    return EXIT_OK
