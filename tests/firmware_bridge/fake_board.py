"""A scriptable controller on a real raw pty, for link tests the faithful simulator cannot stage.

The test holds the pty master; the link opens the slave by path. Every line the host sends is
logged raw (with its arrival time) and decoded; replies follow simple, switchable rules: answer
normally, answer ``HELLO`` with other values, or stay mute. The test can also write any bytes.
"""

from __future__ import annotations

import asyncio
import os
import tty
from dataclasses import dataclass, field

from firmware_bridge.codec import FrameDecoder
from firmware_bridge.errors import FrameError
from firmware_bridge.frame import REQUEST_VERBS, Frame, encode_frame


@dataclass
class Received:
    """One line from the host."""

    at: float
    raw: bytes
    frame: Frame


@dataclass
class FakeBoard:
    """Answers requests on a raw pty according to its public switches."""

    hello: dict[str, str] = field(
        default_factory=lambda: {
            "proto": "1", "fw": "fake-1", "id": "FAKE1", "zones": "3", "tmax": "300", "hb": "60000", "tel": "0",
        }
    )
    mute: bool = False
    """Read and log, answer nothing."""
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.path = os.ttyname(self._slave)
        # Holding the slave open keeps the pty alive (and the master quiet) while the host reconnects.
        os.set_blocking(self.master, False)
        self._loop = asyncio.get_running_loop()
        self._decoder = FrameDecoder(REQUEST_VERBS)
        self._pending = b""
        self._loop.add_reader(self.master, self._readable)

    def close(self) -> None:
        """Remove the pty (the host sees it vanish)."""
        if self.master >= 0:
            self._loop.remove_reader(self.master)
            os.close(self.master)
            os.close(self._slave)
            self.master = -1

    def write(self, data: bytes) -> None:
        """Send raw bytes to the host."""
        os.write(self.master, data)

    def send(self, frame: Frame) -> None:
        """Send one frame to the host."""
        self.write(encode_frame(frame))

    def verbs(self) -> list[str]:
        """Verbs received so far, in order."""
        return [r.frame.verb for r in self.received]

    def _readable(self) -> None:
        try:
            data = os.read(self.master, 4096)
        except BlockingIOError:
            return
        now = self._loop.time()
        self._pending += data
        *lines, self._pending = self._pending.split(b"\n")
        results = self._decoder.feed(data)
        assert len(results) == len(lines), "the host only sends whole, short lines"
        for raw, item in zip(lines, results):
            if isinstance(item, FrameError):
                raise AssertionError(f"host sent a malformed line: {item}")
            self.received.append(Received(now, raw, item))
            if not self.mute:
                self._answer(item)

    def _answer(self, request: Frame) -> None:
        if request.verb == "HELLO":
            self.send(Frame(request.seq, "OK", dict(self.hello)))
        elif request.verb == "PING":
            self.send(Frame(request.seq, "OK", {"up": "1"}))
        elif request.verb == "STATUS":
            self.send(Frame(request.seq, "OK", {"fault": "none", "zone": "-", "up": "1"}))
        else:
            self.send(Frame(request.seq, "OK", {}))
