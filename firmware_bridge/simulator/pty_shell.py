"""The simulator's serial port: a pty pair in raw mode, optionally behind a stable symlink."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tty
from collections.abc import Callable

from firmware_bridge.constants import READ_CHUNK_BYTES
from firmware_bridge.fdio import BoundedFdWriter


class PtyPort:
    """The board end of a pty; the host opens :attr:`slave_path` (or :attr:`link_path`).

    The board keeps its own handle on the slave end so the pty survives hosts that come and go.
    :meth:`unplug` closes everything and removes the link, as pulling a USB cable does;
    :meth:`plug` makes a new pty and re-points the link at it.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        on_data: Callable[[bytes], None],
        link_path: str | None = None,
    ) -> None:
        self._loop = loop
        self._on_data = on_data
        self.link_path = link_path
        self.slave_path: str | None = None
        self._master: int | None = None
        self._slave: int | None = None
        self._writer: BoundedFdWriter | None = None
        self.tx_dropped_total = 0

    @property
    def plugged(self) -> bool:
        """True while a pty exists."""
        return self._master is not None

    def plug(self) -> str:
        """Create the pty (raw mode), start reading, point the link at it; return the slave path."""
        if self._master is not None:
            assert self.slave_path is not None
            return self.slave_path
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self.slave_path = os.ttyname(slave)
        self._writer = BoundedFdWriter(self._loop, master, self._write_failed)
        self._loop.add_reader(master, self._readable)
        if self.link_path:
            tmp = f"{self.link_path}.{os.getpid()}.tmp"
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            os.symlink(self.slave_path, tmp)
            os.replace(tmp, self.link_path)
        return self.slave_path

    def unplug(self) -> None:
        """Remove the link and close the pty: the host sees EOF/EIO and the path vanishes."""
        if self.link_path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.link_path)
        if self._writer is not None:
            self.tx_dropped_total += self._writer.dropped
            self._writer.close()
            self._writer = None
        if self._master is not None:
            self._loop.remove_reader(self._master)
            os.close(self._master)
            self._master = None
        if self._slave is not None:
            os.close(self._slave)
            self._slave = None

    @property
    def tx_dropped(self) -> int:
        """Frames dropped because nobody drained the pty."""
        return self.tx_dropped_total + (self._writer.dropped if self._writer else 0)

    def write(self, data: bytes) -> bool:
        """Queue ``data`` for the host; False if unplugged or the buffer is full."""
        if self._writer is None:
            return False
        return self._writer.write(data)

    def _readable(self) -> None:
        assert self._master is not None
        try:
            data = os.read(self._master, READ_CHUNK_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return  # EIO while no slave is open: nothing to read
        if data:
            self._on_data(data)

    def _write_failed(self, exc: OSError) -> None:
        # The writer closed itself; a fresh one keeps the board talking (as a UART would).
        if self._master is not None:
            assert self._writer is not None
            self.tx_dropped_total += self._writer.dropped
            self._writer = BoundedFdWriter(self._loop, self._master, self._write_failed)
