"""systemd notify protocol, spoken directly on $NOTIFY_SOCKET (no libsystemd).

Messages are newline-separated `KEY=VALUE` assignments in one datagram on a unix socket. A path that
starts with '@' names an abstract socket. Sending never raises: a gateway without systemd, or with a
socket that went away, keeps running.

The socket is non-blocking and the kernel queues only `net.unix.max_dgram_qlen` datagrams (often 10)
for a manager that lags. WATCHDOG=1 and STATUS= are sent once (the next ping or status replaces a lost
one), but READY=1 and STOPPING=1 change the unit's state and are sent once only, so `ready()` and
`stopping()` retry while the queue is full, pausing on the event loop (never blocking it), for at most
`NOTIFY_STATE_RETRY_TOTAL_S`.
"""

from __future__ import annotations

import asyncio
import enum
import errno
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping

from gateway.lifecycle.const import (
    NOTIFY_STATE_RETRY_FIRST_S,
    NOTIFY_STATE_RETRY_MAX_S,
    NOTIFY_STATE_RETRY_TOTAL_S,
    NOTIFY_STATUS_MAX_CHARS,
)

log = logging.getLogger(__name__)

# The manager's queue is full (or the kernel is short of buffers): worth another try shortly.
TRANSIENT_ERRNOS = frozenset({errno.EAGAIN, errno.EWOULDBLOCK, errno.ENOBUFS})


class SendOutcome(enum.Enum):
    SENT = "sent"
    QUEUE_FULL = "queue full"
    FAILED = "failed"  # no manager, or its socket is gone: retrying will not help
    DISABLED = "disabled"


class SystemdNotifier:
    """Sends READY=1, STOPPING=1, STATUS=... and WATCHDOG=1 to the service manager."""

    def __init__(
        self,
        socket_path: str | None,
        *,
        watchdog_usec: int | None = None,
        state_retry_total_s: float = NOTIFY_STATE_RETRY_TOTAL_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._address: str | bytes | None = None
        if socket_path:
            self._address = "\0" + socket_path[1:] if socket_path.startswith("@") else socket_path
        self.watchdog_usec = watchdog_usec
        self._state_retry_total_s = state_retry_total_s
        self._monotonic = monotonic
        self._sock: socket.socket | None = None
        self.state_retries = 0  # datagrams of READY/STOPPING that had to be sent again (for tests and logs)

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

    def _send_once(self, payload: bytes) -> SendOutcome:
        if self._address is None:
            return SendOutcome.DISABLED
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._sock.setblocking(False)
            self._sock.sendto(payload, self._address)
        except OSError as exc:
            if exc.errno in TRANSIENT_ERRNOS:
                return SendOutcome.QUEUE_FULL
            log.debug("notify socket send failed: %s", exc)
            return SendOutcome.FAILED
        return SendOutcome.SENT

    def send(self, **fields: str | int) -> bool:
        """Send one message of KEY=VALUE assignments, once. Returns False if it could not be sent."""
        return self._send_once(_payload(fields)) is SendOutcome.SENT

    async def send_state(self, **fields: str | int) -> bool:
        """Send a state change; while the manager's queue is full, try again for a bounded time."""
        payload = _payload(fields)
        deadline = self._monotonic() + self._state_retry_total_s
        pause = NOTIFY_STATE_RETRY_FIRST_S
        while True:
            outcome = self._send_once(payload)
            if outcome is not SendOutcome.QUEUE_FULL:
                return outcome is SendOutcome.SENT
            left = deadline - self._monotonic()
            if left <= 0:
                log.warning("service manager did not take %s within %.1f s (its queue stayed full)",
                            " ".join(f"{key}={value}" for key, value in fields.items() if key != "STATUS"),
                            self._state_retry_total_s)
                return False
            self.state_retries += 1
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 2, NOTIFY_STATE_RETRY_MAX_S)

    async def ready(self, status: str) -> bool:
        return await self.send_state(READY=1, STATUS=_clip(status), MAINPID=os.getpid())

    async def stopping(self, status: str = "stopping") -> bool:
        return await self.send_state(STOPPING=1, STATUS=_clip(status))

    def status(self, text: str) -> bool:
        return self.send(STATUS=_clip(text))

    def watchdog(self) -> bool:
        return self.send(WATCHDOG=1)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _payload(fields: Mapping[str, str | int]) -> bytes:
    return "\n".join(f"{key}={value}" for key, value in fields.items()).encode("utf-8", "replace")


def _clip(text: str) -> str:
    return " ".join(text.split())[:NOTIFY_STATUS_MAX_CHARS]
