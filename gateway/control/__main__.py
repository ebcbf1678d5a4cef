"""``python -m gateway.control --ipc-fd N --parent-pid P``: the extruder control process.

Started by the gateway only (see :mod:`gateway.control.client`); it reads its configuration from the
inherited socket and exits when that socket closes.
"""

from __future__ import annotations

import argparse
import sys

from gateway.control.process import main
from gateway.logs import setup_logging


def _args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m gateway.control", description=__doc__)
    p.add_argument("--ipc-fd", type=int, required=True, help="inherited socket to the gateway")
    p.add_argument("--parent-pid", type=int, required=True, help="the gateway's pid (exit if it is already gone)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.add_argument("--log-format", default="text", choices=["text", "json"])
    return p.parse_args(argv)


if __name__ == "__main__":
    args = _args()
    setup_logging(args.log_level, args.log_format)
    sys.exit(main(args.ipc_fd, args.parent_pid))
