"""``python -m firmware_bridge.monitor PORT``: watch a controller link from a terminal.

Opens the port, does ``HELLO``, enables telemetry and prints every decoded frame (``tx``/``rx``),
every discarded line (``rx!`` with the reason) and, every ``--interval`` seconds, the link counters.
``--count N`` exits after N telemetry frames, ``--once`` after the first one plus a ``STATUS``;
otherwise it runs until Ctrl-C (SIGINT) or SIGTERM. The port is opened exclusively: stop the
gateway first. Like any host, the monitor turns heaters and motor off when it connects and when
it exits (then also telemetry).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from typing import TextIO

from firmware_bridge.constants import MONITOR_CONNECT_TIMEOUT_S, MONITOR_COUNTERS_INTERVAL_S, MONITOR_DEFAULT_TEL_MS
from firmware_bridge.errors import FrameError, LinkError
from firmware_bridge.frame import Frame
from firmware_bridge.link import SerialLink
from firmware_bridge.messages import LinkStateChange
from firmware_bridge.telemetry import FaultEvent, Telemetry



class TrafficPrinter:
    """Formats frames, errors and counters as plain lines."""

    def __init__(self, out: TextIO, show_tx: bool = True) -> None:
        self._out = out
        self._show_tx = show_tx
        self._t0 = time.monotonic()

    def _stamp(self) -> str:
        return f"{time.monotonic() - self._t0:9.3f}"

    def traffic(self, direction: str, item: Frame | FrameError) -> None:
        """Tap for :class:`SerialLink` ``on_traffic``."""
        if direction == "tx" and not self._show_tx:
            return
        if isinstance(item, FrameError):
            text = f"rx! {item.kind.value} {item.line[:60]!r}"
        else:
            text = f"{direction}  {item}"
        print(f"{self._stamp()} {text}", file=self._out, flush=True)

    def line(self, text: str) -> None:
        """Print an annotation line."""
        print(f"{self._stamp()} -- {text}", file=self._out, flush=True)

    def counters(self, link: SerialLink) -> None:
        """Print the link state and its non-zero counters on one line."""
        c = {k: v for k, v in link.counters.as_dict().items() if v}
        body = " ".join(f"{k}={v}" for k, v in c.items()) or "(all zero)"
        self.line(f"state={link.state} {body}")


async def monitor(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Run the monitor; return the process exit status."""
    printer = TrafficPrinter(out, show_tx=not args.rx_only)
    try:
        link = SerialLink(args.port, args.zones, telemetry_period_ms=args.tel, on_traffic=printer.traffic)
    except ValueError as exc:
        print(f"bad option: {exc}", file=sys.stderr)
        return 2
    events = link.subscribe()
    stopped_by: list[str] = []
    stop = asyncio.Event()

    def on_signal(name: str) -> None:
        stopped_by.append(name)
        stop.set()
        events.close()  # ends the event loop below; the link is then stopped cleanly

    loop = asyncio.get_running_loop()
    stop_signals = (signal.SIGINT, signal.SIGTERM)
    for sig in stop_signals:
        loop.add_signal_handler(sig, on_signal, sig.name)
    await link.start()
    try:
        if not await _up_unless_stopped(link, args.timeout, stop):
            if stopped_by:
                printer.line(f"stopped by {stopped_by[0]} before the link was up")
                return 0
            printer.line(f"link not up after {args.timeout} s ({link.open_error or link.lost_reason})")
            return 1
        hello = link.hello
        assert hello is not None
        printer.line(f"controller fw={hello.fw} id={hello.board_id} zones={hello.zones} "
                     f"tmax={hello.tmax_c} hb={hello.hb_ms}ms tel={args.tel}ms")
        wanted = 1 if args.once else args.count
        seen = 0
        next_counters = time.monotonic() + args.interval
        while wanted is None or seen < wanted:
            try:
                async with asyncio.timeout(max(next_counters - time.monotonic(), 0.0)):
                    event = await events.get()
            except TimeoutError:
                printer.counters(link)
                next_counters = time.monotonic() + args.interval
                continue
            except StopAsyncIteration:
                printer.line(f"stopped by {stopped_by[0] if stopped_by else 'the link'}")
                break
            if isinstance(event, Telemetry):
                seen += 1
            elif isinstance(event, FaultEvent):
                printer.line(f"FAULT {event.code} zone={'-' if event.zone is None else event.zone}")
            elif isinstance(event, LinkStateChange):
                printer.line(f"link {event.old} -> {event.new}: {event.reason}")
        if args.once and not stopped_by:
            try:
                status = await link.request("STATUS")
                printer.line("status " + " ".join(f"{k}={v}" for k, v in status.fields.items()))
            except LinkError as exc:
                printer.line(f"STATUS failed: {exc}")
        await link.stop()
        printer.counters(link)
        return 0
    finally:
        await link.stop()
        for sig in stop_signals:
            loop.remove_signal_handler(sig)


async def _up_unless_stopped(link: SerialLink, timeout_s: float, stop: asyncio.Event) -> bool:
    """Wait until the link is up (True), ``stop`` is set or ``timeout_s`` passed (False)."""
    up = asyncio.ensure_future(link.wait_up(timeout_s))
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({up, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        up.cancel()
        stopped.cancel()
    return up.done() and not up.cancelled() and up.exception() is None


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m firmware_bridge.monitor", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("port", help="serial port path (a stable link such as /dev/serial/by-id/...)")
    p.add_argument("--zones", type=int, default=1, help="zones the controller must have at least")
    p.add_argument("--tel", type=int, default=MONITOR_DEFAULT_TEL_MS, help="telemetry period, ms")
    p.add_argument("--count", type=int, help="exit after this many telemetry frames")
    p.add_argument("--once", action="store_true", help="one telemetry frame and a STATUS, then exit")
    p.add_argument("--interval", type=float, default=MONITOR_COUNTERS_INTERVAL_S, help="counters every S seconds")
    p.add_argument("--timeout", type=float, default=MONITOR_CONNECT_TIMEOUT_S, help="give up if not up after S")
    p.add_argument("--rx-only", action="store_true", help="do not print the frames sent")
    return p


def main() -> None:
    """Entry point."""
    try:
        sys.exit(asyncio.run(monitor(build_parser().parse_args())))
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
