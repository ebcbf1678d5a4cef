"""The serial port: opened and configured by pyserial, read and written through the asyncio loop."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

import serial

from firmware_bridge.constants import BAUD_RATE_BPS, READ_CHUNK_BYTES, WRITE_BUFFER_MAX_BYTES
from firmware_bridge.fdio import BoundedFdWriter


class SerialTransport:
    """An open serial port.

    Reads arrive through ``loop.add_reader`` and go to ``on_data``; writes are bounded
    (:class:`BoundedFdWriter`). When the port goes away (EOF, EIO: an unplugged adapter or a closed
    pty) ``on_closed`` is called once with the reason and the transport closes itself.
    """

    def __init__(
        self,
        port: serial.Serial,
        loop: asyncio.AbstractEventLoop,
        on_data: Callable[[bytes], None],
        on_closed: Callable[[str], None],
        write_buffer_max_bytes: int = WRITE_BUFFER_MAX_BYTES,
    ) -> None:
        self._port = port
        self._loop = loop
        self._fd = port.fileno()
        self._on_data = on_data
        self._on_closed = on_closed
        self._closed = False
        os.set_blocking(self._fd, False)
        self._writer = BoundedFdWriter(loop, self._fd, self._write_failed, write_buffer_max_bytes)
        loop.add_reader(self._fd, self._readable)

    @classmethod
    def open(
        cls,
        path: str,
        on_data: Callable[[bytes], None],
        on_closed: Callable[[str], None],
        write_buffer_max_bytes: int = WRITE_BUFFER_MAX_BYTES,
    ) -> SerialTransport:
        """Open ``path`` (115200 8N1, no flow control, exclusive) with stale input flushed.

        Raises ``OSError`` (``serial.SerialException`` is one) if the port cannot be opened.
        Must be called from the running loop's thread.
        """
        port = serial.Serial(
            port=path,
            baudrate=BAUD_RATE_BPS,
            bytesize=serial.EIGHTBITS,
            parity=serial.PARITY_NONE,
            stopbits=serial.STOPBITS_ONE,
            xonxoff=False,
            rtscts=False,
            dsrdtr=False,
            timeout=0,
            write_timeout=0,
            exclusive=True,
        )
        try:
            port.reset_input_buffer()
            return cls(port, asyncio.get_running_loop(), on_data, on_closed, write_buffer_max_bytes)
        except BaseException:
            port.close()
            raise

    @property
    def closed(self) -> bool:
        """True once closed (by the caller or because the port went away)."""
        return self._closed

    @property
    def tx_dropped(self) -> int:
        """Frames dropped because the write buffer was full."""
        return self._writer.dropped

    def write(self, data: bytes) -> bool:
        """Queue one frame; False if dropped (buffer full or port closed)."""
        return self._writer.write(data)

    def _readable(self) -> None:
        try:
            data = os.read(self._fd, READ_CHUNK_BYTES)
        except BlockingIOError:
            return
        except OSError as exc:
            self._lose(f"read failed: {exc.strerror or exc}")
            return
        if not data:
            self._lose("port closed (EOF)")
            return
        self._on_data(data)

    def _write_failed(self, exc: OSError) -> None:
        self._lose(f"write failed: {exc.strerror or exc}")

    def _lose(self, reason: str) -> None:
        if self._closed:
            return
        self.close()
        self._on_closed(reason)

    def close(self) -> None:
        """Stop reading and writing and close the port (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._loop.remove_reader(self._fd)
        self._writer.close()
        try:
            self._port.close()
        except OSError:
            pass
