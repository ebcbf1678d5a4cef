"""`python -m gateway.printers.simulator`: simulated printers on a broker (the demo and the benchmark).

Printers report like a P1/A1 (changes only; the full status when asked with pushall) unless listed with
`--x1` (the full status with every push). Misbehaviours per printer: `--silent`, `--ignore-pushall`,
`--double-pushall`, `--slow-pushall SERIAL=SECONDS` (see client.py).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import signal
from pathlib import Path

from gateway.printers.simulator.client import BrokerAddress, PrinterSimulator
from gateway.printers.simulator.model import Family, SimulatedPrinter


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m gateway.printers.simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--username", default="simulator")
    parser.add_argument("--password-file", type=Path, required=True, help="file holding the broker password")
    parser.add_argument("--ca-file", type=Path, default=None, help="CA of the broker (default: not verified)")
    parser.add_argument("--serial", action="append", required=True, help="a printer serial (repeat)")
    parser.add_argument("--rate-hz", type=float, default=1.0, help="delta reports per second per printer")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random choice (default 0)")
    parser.add_argument("--hms", action="append", default=[], metavar="SERIAL", help="this printer reports an HMS error")
    parser.add_argument("--failed", action="append", default=[], metavar="SERIAL", help="this printer's print failed")
    parser.add_argument("--verification-required", action="append", default=[], metavar="SERIAL",
                        help="this printer refuses commands like newer firmware (command verification failed)")
    parser.add_argument("--x1", action="append", default=[], metavar="SERIAL",
                        help="this printer pushes its full status every time, like an X1 (default: P1-style deltas)")
    parser.add_argument("--silent", action="append", default=[], metavar="SERIAL",
                        help="this printer stays connected but publishes and answers nothing")
    parser.add_argument("--ignore-pushall", action="append", default=[], metavar="SERIAL",
                        help="this printer never answers pushall")
    parser.add_argument("--double-pushall", action="append", default=[], metavar="SERIAL",
                        help="this printer answers every pushall twice")
    parser.add_argument("--slow-pushall", action="append", default=[], type=serial_and_seconds,
                        metavar="SERIAL=SECONDS", help="this printer answers pushall after SECONDS")
    return parser.parse_args(argv)


def serial_and_seconds(text: str) -> tuple[str, float]:
    serial, separator, seconds = text.partition("=")
    try:
        value = float(seconds)
    except ValueError:
        value = -1.0
    if not separator or not serial or not value >= 0:
        raise argparse.ArgumentTypeError(f"expected SERIAL=SECONDS, got {text!r}")
    return serial, value


async def run(args: argparse.Namespace) -> None:
    broker = BrokerAddress(args.host, args.port, args.username, args.password_file.read_text().strip(), args.ca_file)
    rng = random.Random(args.seed)
    simulators = []
    for index, serial in enumerate(args.serial):
        family = Family.X1 if serial in args.x1 else Family.P1
        model = SimulatedPrinter(serial, random.Random(rng.random()), family=family)
        model.elapsed_s = rng.uniform(0, 600) + index * 60  # printers at different points of their jobs
        if serial in args.hms:
            model.inject_hms()
        if serial in args.failed:
            model.fail_print()
        model.verification_required = serial in args.verification_required
        simulator = PrinterSimulator(model, broker, rate_hz=args.rate_hz)
        simulator.silent = serial in args.silent
        simulator.ignore_pushall = serial in args.ignore_pushall
        simulator.double_pushall = serial in args.double_pushall
        simulator.slow_pushall_s = dict(args.slow_pushall).get(serial, 0.0)
        simulators.append(simulator)
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
