"""The pyserial transport on a raw pty: bounded writes to a peer that stops reading, port loss."""

from __future__ import annotations

import asyncio
import os
import time
import tty
from collections.abc import Iterator

import pytest

from tests.firmware_bridge.fb_helpers import wait_for
from firmware_bridge.constants import WRITE_BUFFER_MAX_BYTES
from firmware_bridge.transport import SerialTransport


class RawPty:
    """A pty whose master end the test drives by hand."""

    def __init__(self) -> None:
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.path = os.ttyname(slave)
        os.close(slave)
        os.set_blocking(self.master, False)
        self.open = True

    def close(self) -> None:
        """Close the master end (the slave side sees a hang-up, like an unplugged adapter)."""
        if self.open:
            self.open = False
            os.close(self.master)


@pytest.fixture
def raw_pty() -> Iterator[RawPty]:
    pty = RawPty()
    try:
        yield pty
    finally:
        pty.close()


def drain(master: int) -> bytes:
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except (BlockingIOError, OSError):
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


async def test_a_peer_that_stops_reading_never_blocks_or_spins_the_loop(raw_pty: RawPty) -> None:
    master, path = raw_pty.master, raw_pty.path
    closed: list[str] = []
    transport = SerialTransport.open(path, lambda data: None, closed.append)
    try:
        frame = b"1 PING*ABCD\n" * 8
        accepted = 0
        for _ in range(20_000):
            if transport.write(frame):
                accepted += 1
            else:
                break
        assert transport.tx_dropped == 1, "the first frame that does not fit is dropped, not blocked on"
        assert transport.write(frame) is False and transport.tx_dropped == 2
        # Idle with a full buffer: the loop must not be woken again and again by the writer, and
        # stays free for everything else (a ticker sees no stall).
        loop = asyncio.get_running_loop()
        lateness: list[float] = []

        async def ticker() -> None:
            for _ in range(30):
                due = loop.time() + 0.01
                await asyncio.sleep(0.01)
                lateness.append(loop.time() - due)

        cpu_before, wall_before = time.process_time(), time.monotonic()
        await ticker()
        cpu_used = time.process_time() - cpu_before
        assert cpu_used < 0.5 * (time.monotonic() - wall_before), cpu_used
        assert max(lateness) < 0.25, "the loop stalled"  # generous: a loaded CI machine
        assert transport.write(frame) is False, "still full: nothing was written behind our back"

        received = bytearray()
        async def reader_drains() -> bool:
            received.extend(drain(master))
            return transport.write(frame)
        for _ in range(200):
            if await reader_drains():
                break
            await asyncio.sleep(0.005)
        else:
            raise AssertionError("writes never resumed after the peer read again")
        assert len(received) >= accepted * len(frame) - WRITE_BUFFER_MAX_BYTES
        assert received.startswith(frame), "queued frames go out whole and in order"
        assert not closed
    finally:
        transport.close()


async def test_port_closing_under_the_transport_is_reported_once(raw_pty: RawPty) -> None:
    got: list[bytes] = []
    closed: list[str] = []
    transport = SerialTransport.open(raw_pty.path, got.append, closed.append)
    os.write(raw_pty.master, b"hello\n")
    await wait_for(lambda: b"".join(got) == b"hello\n", what="data")
    assert transport.write(b"to the board\n")
    await wait_for(lambda: drain(raw_pty.master) == b"to the board\n", what="data out")
    raw_pty.close()
    await wait_for(lambda: bool(closed), what="loss reported")
    assert len(closed) == 1 and transport.closed
    assert transport.write(b"x\n") is False
