"""Bounded non-blocking writes to a file descriptor driven by the asyncio loop."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

from firmware_bridge.constants import WRITE_BUFFER_MAX_BYTES


class BoundedFdWriter:
    """Writes to a non-blocking fd without ever blocking or spinning the loop.

    What the fd does not take at once is queued and flushed when the loop reports the fd writable.
    A frame that would push the queue beyond ``max_bytes`` is dropped whole (never half-written)
    and counted, so a peer that stops reading costs a bounded amount of memory and no CPU.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        fd: int,
        on_error: Callable[[OSError], None],
        max_bytes: int = WRITE_BUFFER_MAX_BYTES,
    ) -> None:
        self._loop = loop
        self._fd = fd
        self._on_error = on_error
        self._max = max_bytes
        self._buf = bytearray()
        self._watching = False
        self._closed = False
        self.dropped = 0
        """Frames dropped because the queue was full."""
        self.bytes_written = 0

    @property
    def queued(self) -> int:
        """Bytes waiting for the fd."""
        return len(self._buf)

    def write(self, data: bytes) -> bool:
        """Queue ``data``; return False (and count it) if it was dropped."""
        if self._closed:
            self.dropped += 1
            return False
        if len(self._buf) + len(data) > self._max:
            self.dropped += 1
            return False
        if self._buf:
            self._buf += data
            return True
        try:
            n = os.write(self._fd, data)
        except BlockingIOError:
            n = 0
        except OSError as exc:
            self._fail(exc)
            return False
        self.bytes_written += n
        if n < len(data):
            self._buf += data[n:]
            self._watch()
        return True

    def _watch(self) -> None:
        if not self._watching and not self._closed:
            self._loop.add_writer(self._fd, self._flush)
            self._watching = True

    def _unwatch(self) -> None:
        if self._watching:
            self._loop.remove_writer(self._fd)
            self._watching = False

    def _flush(self) -> None:
        try:
            n = os.write(self._fd, self._buf)
        except BlockingIOError:
            return
        except OSError as exc:
            self._fail(exc)
            return
        self.bytes_written += n
        del self._buf[:n]
        if not self._buf:
            self._unwatch()

    def _fail(self, exc: OSError) -> None:
        self.close()
        self._on_error(exc)

    def close(self) -> None:
        """Stop writing; queued bytes are discarded. The fd itself is not closed."""
        self._unwatch()
        self._closed = True
        self._buf.clear()
