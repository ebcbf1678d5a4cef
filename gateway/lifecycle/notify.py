"""systemd notify protocol, spoken directly on $NOTIFY_SOCKET (no libsystemd).

Messages are newline-separated `KEY=VALUE` assignments in one datagram on a unix socket. A path that
starts with '@' names an abstract socket. Sending never raises: a gateway without systemd, or with a
socket that went away, keeps running.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)

STATUS_MAX_CHARS = 200


class SystemdNotifier:
    """Sends READY=1, STOPPING=1, STATUS=... and WATCHDOG=1 to the service manager."""

    def __init__(self, socket_path: str | None, *, watchdog_usec: int | None = None) -> None:
        self._address: str | bytes | None = None
        if socket_path:
            self._address = "\0" + socket_path[1:] if socket_path.startswith("@") else socket_path
        self.watchdog_usec = watchdog_usec
        self._sock: socket.socket | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> SystemdNotifier:
        """Read NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID as systemd sets them."""
        env = os.environ if environ is None else environ
        watchdog_usec: int | None = None
        raw_usec = env.get("WATCHDOG_USEC", "")
        raw_pid = env.get("WATCHDOG_PID", "")
        if raw_usec.isdigit() and int(raw_usec) > 0 and (not raw_pid or raw_pid == str(os.getpid())):
            watchdog_usec = int(raw_usec)
        return cls(env.get("NOTIFY_SOCKET") or None, watchdog_usec=watchdog_usec)

    @property
    def enabled(self) -> bool:
        return self._address is not None

    @property
    def watchdog_interval_s(self) -> float | None:
        """How often to ping: half the watchdog timeout, as sd_watchdog_enabled(3) advises."""
        return None if self.watchdog_usec is None else self.watchdog_usec / 2_000_000

    def send(self, **fields: str | int) -> bool:
        """Send one message of KEY=VALUE assignments. Returns False if it could not be sent."""
        if self._address is None:
            return False
        payload = "\n".join(f"{key}={value}" for key, value in fields.items()).encode("utf-8", "replace")
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._sock.setblocking(False)
            self._sock.sendto(payload, self._address)
        except OSError as exc:
            log.debug("notify socket send failed: %s", exc)
            return False
        return True

    def ready(self, status: str) -> bool:
        return self.send(READY=1, STATUS=_clip(status), MAINPID=os.getpid())

    def stopping(self, status: str = "stopping") -> bool:
        return self.send(STOPPING=1, STATUS=_clip(status))

    def status(self, text: str) -> bool:
        return self.send(STATUS=_clip(text))

    def watchdog(self) -> bool:
        return self.send(WATCHDOG=1)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _clip(text: str) -> str:
    return " ".join(text.split())[:STATUS_MAX_CHARS]
