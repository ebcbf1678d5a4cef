"""`python -m gateway.printers.simulator`: simulated printers on a broker (the demo and the benchmark)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import signal
from pathlib import Path

from gateway.printers.simulator.client import BrokerAddress, PrinterSimulator
from gateway.printers.simulator.model import SimulatedPrinter


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m gateway.printers.simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--username", default="simulator")
    parser.add_argument("--password-file", type=Path, required=True, help="file holding the broker password")
    parser.add_argument("--ca-file", type=Path, default=None, help="CA of the broker (default: not verified)")
    parser.add_argument("--serial", action="append", required=True, help="a printer serial (repeat)")
    parser.add_argument("--rate-hz", type=float, default=1.0, help="delta reports per second per printer")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--hms", action="append", default=[], metavar="SERIAL", help="this printer reports an HMS error")
    parser.add_argument("--failed", action="append", default=[], metavar="SERIAL", help="this printer's print failed")
    parser.add_argument("--verification-required", action="append", default=[], metavar="SERIAL",
                        help="this printer refuses commands like newer firmware (command verification failed)")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    broker = BrokerAddress(args.host, args.port, args.username, args.password_file.read_text().strip(), args.ca_file)
    rng = random.Random(args.seed)
    simulators = []
    for index, serial in enumerate(args.serial):
        model = SimulatedPrinter(serial, random.Random(rng.random()))
        model.elapsed_s = rng.uniform(0, 600) + index * 60  # printers at different points of their jobs
        if serial in args.hms:
            model.inject_hms()
        if serial in args.failed:
            model.fail_print()
        model.verification_required = serial in args.verification_required
        simulators.append(PrinterSimulator(model, broker, rate_hz=args.rate_hz))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(sim.run()) for sim in simulators]
    await stop.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    main()
