"""`edge-gateway serve --config PATH` and `edge-gateway demo` (the simulated site on loopback)."""

from __future__ import annotations

import argparse
import asyncio
import os
import tomllib
from pathlib import Path

from gateway.cli.common import EXIT_USAGE, CliError, add_config_argument, config_path, load_or_exit, print_config_error
from gateway.cli.token_cmd import issue_token
from gateway.config.loader import ConfigError, apply_env_overrides, simulated_site_text, validate_config_data
from gateway.config.models import GatewayConfig
from gateway.factory import Gateway
from gateway.lifecycle.notify import SystemdNotifier
from gateway.lifecycle.runner import run_service
from gateway.logs import setup_logging

DEMO_STATE_DIR = Path(".demo/state")
DEMO_TOKEN_TTL_S = 8 * 3600


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    serve = subparsers.add_parser("serve", help="run the gateway service")
    add_config_argument(serve)
    serve.set_defaults(func=run_serve)
    demo = subparsers.add_parser("demo", help="run the simulated site on loopback, with a ready admin token")
    demo.add_argument("--state-dir", type=Path, default=DEMO_STATE_DIR, help=f"(default: {DEMO_STATE_DIR})")
    demo.add_argument("--port", type=int, default=None, help="API port on 127.0.0.1 (default: the config's)")
    demo.set_defaults(func=run_demo)


def run_serve(args: argparse.Namespace) -> int:
    config = load_or_exit(config_path(args))
    return _serve(config)


def _serve(config: GatewayConfig, banner: str | None = None) -> int:
    setup_logging(config.gateway.log_level, config.gateway.log_format)

    def announce(gateway: Gateway) -> None:
        if banner is not None:
            print(banner.format(url=gateway.urls[0]), flush=True)

    return asyncio.run(run_service(config, SystemdNotifier.from_environ(), on_ready=announce))


def demo_config(state_dir: Path, port: int | None) -> GatewayConfig:
    """The embedded simulated-site config with the demo's state directory and port applied."""
    data = tomllib.loads(simulated_site_text())
    data["gateway"]["state_dir"] = str(state_dir.resolve())
    if port is not None:
        data["http"]["listen"] = [{"host": "127.0.0.1", "port": port}]
    try:
        return validate_config_data(apply_env_overrides(data, os.environ), source="demo", base_dir=None)
    except ConfigError as error:
        print_config_error(error)
        raise CliError("", EXIT_USAGE) from None


def run_demo(args: argparse.Namespace) -> int:
    config = demo_config(args.state_dir, args.port)
    token, info = asyncio.run(issue_token(config, "demo-technician", "admin", DEMO_TOKEN_TTL_S))
    banner = (
        "\n=== edge-gateway simulated site ===\n"
        "Page:  {url}/  (technician page: paste the token below to sign in)\n"
        "API:   {url}\n"
        f"Admin token (8 h, jti {info['jti']}):\n{token}\n"
        "Try:   curl -H \"Authorization: Bearer $TOKEN\" {url}/api/v1/status\n"
        "Stop:  Ctrl-C\n"
    )
    return _serve(config, banner)
