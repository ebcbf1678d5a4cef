"""A test NOTIFY_SOCKET: the service manager's end of the systemd notify protocol."""

from __future__ import annotations

import socket
import threading
from pathlib import Path


class NotifyListener:
    """The service manager's end of NOTIFY_SOCKET: reads every datagram as it arrives, as systemd does
    (the kernel queues only ``net.unix.max_dgram_qlen`` datagrams, often 10, for a reader that lags)."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.05)
        self.messages: list[dict[str, str]] = []
        self._changed = threading.Condition()
        self._closing = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._closing:
            try:
                data = self.sock.recv(4096).decode()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._changed:
                self.messages.append(dict(line.split("=", 1) for line in data.splitlines() if "=" in line))
                self._changed.notify_all()

    def wait_for(self, key: str, timeout_s: float) -> dict[str, str]:
        def found() -> dict[str, str] | None:
            return next((message for message in self.messages if key in message), None)

        with self._changed:
            if self._changed.wait_for(lambda: found() is not None, timeout_s):
                return found()  # type: ignore[return-value]
        raise AssertionError(f"no {key} notification within {timeout_s} s; got {self.messages}")

    def close(self) -> None:
        self._closing = True
        self._reader.join()
        self.sock.close()
