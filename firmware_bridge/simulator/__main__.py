"""``python -m firmware_bridge.simulator``: run a simulated extruder controller on a pty.

The first line on stdout is the pty path (flushed), printed once the pty, the link and the control
socket exist; each replug prints the new path. SIGTERM or SIGINT stop it cleanly (pty, link and
control socket removed); SIGUSR1 resets the board. Bad options exit with status 2 and a message.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from firmware_bridge.constants import HEARTBEAT_DEFAULT_MS, SIM_DEFAULT_TMAX_C, SIM_DEFAULT_ZONES, MAX_ZONES
from firmware_bridge.simulator.control import ControlServer
from firmware_bridge.simulator.controller import ControllerConfig
from firmware_bridge.simulator.faults import FaultSyntaxError, parse_fault
from firmware_bridge.simulator.runtime import Simulator, SimulatorConfig


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m firmware_bridge.simulator", description=__doc__)
    p.add_argument("--zones", type=int, default=SIM_DEFAULT_ZONES, help="heater zones (1..8)")
    p.add_argument("--speed", type=float, default=1.0, help="plant seconds per real second")
    p.add_argument("--tmax", type=float, default=SIM_DEFAULT_TMAX_C, help="hard limit, degC")
    p.add_argument("--hb", type=int, default=HEARTBEAT_DEFAULT_MS, help="heartbeat timeout, ms")
    p.add_argument("--seed", type=int, default=1, help="seed of noise and random link faults")
    p.add_argument("--link", help="keep this symlink pointing at the current pty")
    p.add_argument("--control", help="unix socket for fault injection and state queries")
    p.add_argument(
        "--fault", action="append", default=[], metavar="SPEC",
        help="inject at start (repeatable), e.g. sensor=0:open, heater=1:dead, heater=1:stuck, crc=0.2, "
        "drop=0.1, silence=on, slow=150, unplug=2000; a real board on a real line: tel_jitter=MS, "
        "tel_drift=PCT (-20..20), burst=RATE[:MEAN[:MAX]] (damaged frames in bursts, default 3:8), "
        "reply_loss=RATE, reboot=MS (spontaneous reboot MS from now), hello_delay=MS, "
        "fault_event=CODE:ZONE (an event TEL does not confirm), swap=ID (another board boots in its place); "
        "clear removes them all. At run time send the same commands with "
        "python -m firmware_bridge.simulator.control SOCKET COMMAND",
    )
    p.add_argument(
        "--tel-jitter", type=int, metavar="MS",
        help="shorthand for --fault tel_jitter=MS: each TEL at its nominal time + uniform [-MS, +MS]",
    )
    p.add_argument(
        "--tel-drift", type=float, metavar="PCT",
        help="shorthand for --fault tel_drift=PCT: the board's clock is PCT per cent slow (negative: fast)",
    )
    return p


def start_faults(args: argparse.Namespace) -> list[str]:
    """Every injection command given on the command line, shorthands included, in a stable order."""
    specs: list[str] = []
    if args.tel_drift is not None:
        specs.append(f"tel_drift={args.tel_drift!r}")
    if args.tel_jitter is not None:
        specs.append(f"tel_jitter={args.tel_jitter}")
    return specs + list(args.fault)


async def run(args: argparse.Namespace) -> int:
    """Run until a stop signal."""
    problems = [
        message
        for bad, message in (
            (not 1 <= args.zones <= MAX_ZONES, f"--zones must be 1..{MAX_ZONES}"),
            (not args.hb > 0, "--hb must be > 0 ms"),
            (not args.speed > 0, "--speed must be > 0"),
            (not args.tmax > 0, "--tmax must be > 0 degC"),
        )
        if bad
    ]
    if problems:
        print("; ".join(problems), file=sys.stderr)
        return 2
    try:
        faults = [parse_fault(spec) for spec in start_faults(args)]
    except FaultSyntaxError as exc:
        print(f"--fault: {exc}", file=sys.stderr)
        return 2
    for cmd in faults:
        if cmd.zone is not None and not 0 <= cmd.zone < args.zones:
            print(f"--fault: no zone {cmd.zone} (zones are 0..{args.zones - 1})", file=sys.stderr)
            return 2
    controller = ControllerConfig(zones=args.zones, tmax_c=args.tmax, hb_ms=args.hb, speed=args.speed)
    sim = Simulator(SimulatorConfig(controller=controller, link_path=args.link, seed=args.seed))
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, sim.inject, "reset")
    control = ControlServer(sim, args.control) if args.control else None
    try:
        try:
            path = await sim.start()
            if control is not None:
                await control.start()
        except OSError as exc:
            print(f"cannot set up the simulator: {exc}", file=sys.stderr)
            return 2
        print(path, flush=True)  # the "ready" line: pty, link and control socket exist
        for cmd in faults:
            sim.inject(cmd)
        while not stop.is_set():
            sim.replugged.clear()
            replug_wait = asyncio.create_task(sim.replugged.wait())
            stop_wait = asyncio.create_task(stop.wait())
            await asyncio.wait({replug_wait, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
            replug_wait.cancel()
            stop_wait.cancel()
            if sim.replugged.is_set():
                print(sim.slave_path, flush=True)
    finally:
        if control is not None:
            await control.stop()
        await sim.stop()
    return 0


def main() -> None:
    """Entry point."""
    sys.exit(asyncio.run(run(build_parser().parse_args())))


if __name__ == "__main__":
    main()
