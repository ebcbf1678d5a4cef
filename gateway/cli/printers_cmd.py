"""`edge-gateway printers list|pin SERIAL|set-code SERIAL`: printer trust and credentials."""

from __future__ import annotations

import argparse
import asyncio
import sys

from gateway.cli.common import EXIT_OK, CliError, config_path, finish_subcommands, load_or_exit, local_state
from gateway.config.models import GatewayConfig
from gateway.printers.assembly import credential_store
from gateway.printers.config import PrinterConfig
from gateway.printers.const import CONNECT_TIMEOUT_S
from gateway.printers.trust import TrustError, fetch_certificate, format_fingerprint

ACCESS_CODE_MAX_CHARS = 64


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("printers", help="printers: list, pin a certificate, set an access code")
    commands = parser.add_subparsers(dest="printers_command", required=True)
    commands.add_parser("list", help="configured printers, their trust mode and whether a code is set")
    pin = commands.add_parser("pin", help="connect once, show the certificate's SHA-256 and CN, store the pin")
    pin.add_argument("serial")
    pin.add_argument("--force", action="store_true",
                     help="store the pin even though the certificate's CN is not the serial (the gateway then "
                          "expects that CN from this printer)")
    set_code = commands.add_parser("set-code", help="store the LAN access code (read from stdin), encrypted")
    set_code.add_argument("serial")
    finish_subcommands(commands, run)


def run(args: argparse.Namespace) -> int:
    config = load_or_exit(config_path(args))
    return asyncio.run(_run(args, config))


def _printer(config: GatewayConfig, serial: str) -> PrinterConfig:
    for printer in config.printers.printers:
        if printer.serial == serial:
            return printer
    raise CliError(f"no printer {serial!r} in the config's [[printers.printers]]")


async def _run(args: argparse.Namespace, config: GatewayConfig) -> int:
    store = credential_store(config.gateway.state_dir, config.encryption_key_file)
    if args.printers_command == "list":
        print(f"{'SERIAL':20} {'HOST':22} {'TRUST':14} CODE  NAME")
        for printer in config.printers.printers:
            trust = ("ca+cn" if printer.ca_file else "pin" if store.pin(printer) else
                     "INSECURE" if printer.insecure_skip_verify else "none")
            has_code = "set" if (printer.access_code_encrypted or store.get(printer.serial).access_code_encrypted) \
                else "-"
            print(f"{printer.serial:20} {printer.host + ':' + str(printer.port):22} {trust:14} {has_code:5} "
                  f"{printer.label}")
        return EXIT_OK
    printer = _printer(config, args.serial)
    if args.printers_command == "pin":
        try:
            peer = await fetch_certificate(printer.host, printer.port, CONNECT_TIMEOUT_S)
        except (OSError, TrustError, asyncio.TimeoutError) as exc:
            raise CliError(f"could not read the certificate of {printer.host}:{printer.port}: "
                           f"{exc or type(exc).__name__}") from None
        print(f"printer {printer.serial} at {printer.host}:{printer.port}")
        print(f"  certificate CN:      {peer.common_name}")
        print(f"  SHA-256 fingerprint: {format_fingerprint(peer.sha256)}")
        if peer.common_name != printer.serial and not args.force:
            raise CliError(f"the certificate's CN {peer.common_name!r} is not the serial {printer.serial}: this may be "
                           f"another printer (check the address); nothing stored. Use --force to pin it anyway")
        if peer.common_name != printer.serial:
            print(f"  WARNING: pinned with --force although the CN is not the serial {printer.serial}",
                  file=sys.stderr)
        store.set_pin(printer.serial, peer.sha256, peer.common_name)
        async with local_state(config) as state:
            await state.record("printers.pin", target=printer.serial, sha256=peer.sha256, cn=peer.common_name)
        print("pin stored; any other certificate is refused from the next gateway start")
        return EXIT_OK
    code = sys.stdin.readline().strip()
    if not code or len(code) > ACCESS_CODE_MAX_CHARS or not code.isprintable():
        raise CliError(f"give the access code on stdin: 1 to {ACCESS_CODE_MAX_CHARS} printable characters")
    store.set_access_code(printer.serial, code)
    async with local_state(config) as state:
        await state.record("printers.set_code", target=printer.serial)
    print(f"access code of {printer.serial} stored encrypted; it takes effect at the next gateway start")
    return EXIT_OK
