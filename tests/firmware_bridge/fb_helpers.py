"""Helpers shared by the firmware_bridge tests (imported by module name; no package needed)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from firmware_bridge.codec import FrameDecoder
from firmware_bridge.crc import crc16_hex
from firmware_bridge.errors import FrameError
from firmware_bridge.frame import HOST_RX_VERBS, REQUEST_VERBS, Frame
from firmware_bridge.link import SerialLink
from firmware_bridge.simulator.runtime import Simulator

PYTHON = sys.executable
REPO_ROOT = Path(__file__).resolve().parents[2]

SimFactory = Callable[..., Awaitable[Simulator]]
"""Type of the ``make_sim`` fixture."""
LinkFactory = Callable[..., Awaitable[SerialLink]]
"""Type of the ``make_link`` fixture."""

ALL_VERBS = REQUEST_VERBS | HOST_RX_VERBS


def line(body: str) -> bytes:
    """A correctly checksummed line for ``body``."""
    return f"{body}*{crc16_hex(body.encode())}\n".encode()


def decode_one(data: bytes, verbs: frozenset[str] = ALL_VERBS) -> Frame | FrameError:
    """What one line decodes to (asserts it is exactly one)."""
    decoder = FrameDecoder(verbs)
    results = decoder.feed(data)
    assert len(results) == 1
    return results[0]


WAIT_TIMEOUT_S = 5.0
"""Upper bound for conditions that normally hold within milliseconds (headroom for loaded CI)."""


async def wait_for(predicate: Callable[[], bool], timeout_s: float = WAIT_TIMEOUT_S, what: str = "") -> None:
    """Poll ``predicate`` until true; fail the test with ``what`` after ``timeout_s``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what or predicate}")
        await asyncio.sleep(0.005)
