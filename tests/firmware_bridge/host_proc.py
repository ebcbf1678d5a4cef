"""A host process for the failsafe tests: connect, switch heaters and motor on, then idle until killed.

Usage: ``python host_proc.py PORT ZONES``; prints ``heaters-on`` once the board accepted the outputs.
"""

from __future__ import annotations

import asyncio
import sys

from firmware_bridge.link import SerialLink


async def main(port: str, zones: int) -> None:
    """Run until killed."""
    link = SerialLink(port, zones, telemetry_period_ms=100)
    await link.start()
    await link.wait_up(10.0)
    await link.request("OUT", **{f"d{i}": 700 for i in range(zones)})
    await link.request("MOTOR", rpm=30)
    print("heaters-on", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
