"""Liveness: event-loop lag measurement and the systemd watchdog ping that depends on it.

WATCHDOG=1 is sent only while every liveness check passes: the event loop answers within
`loop_lag_max_s`, and each registered check (the control loop registers one: "ticked recently") says
it is alive. If any check fails, the pings stop and systemd restarts the service after WatchdogSec.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from gateway.lifecycle.const import LOOP_PROBE_INTERVAL_S, WATCHDOG_DEFAULT_INTERVAL_S
from gateway.lifecycle.notify import SystemdNotifier

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Liveness:
    alive: bool
    reason: str = ""


LivenessCheck = Callable[[], Liveness]


def liveness_check_name(check: LivenessCheck) -> str:
    """A check's name: the `name` of the object whose bound method it is (`LoopLagMonitor.check` is
    "event-loop"), else the function's own name."""
    owner = getattr(check, "__self__", None)
    name = getattr(owner, "name", None)
    if isinstance(name, str):
        return name
    return str(getattr(check, "__name__", repr(check)))


class LoopLagMonitor:
    """Measures how late the event loop runs a sleeping task (a stalled loop shows as lag)."""

    name = "event-loop"

    def __init__(self, *, max_lag_s: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.max_lag_s = max_lag_s
        self._monotonic = monotonic
        self.last_lag_s = 0.0
        self.worst_lag_s = 0.0
        self._last_probe = monotonic()

    async def run(self) -> None:
        while True:
            expected = self._monotonic() + LOOP_PROBE_INTERVAL_S
            await asyncio.sleep(LOOP_PROBE_INTERVAL_S)
            now = self._monotonic()
            self.last_lag_s = max(0.0, now - expected)
            self.worst_lag_s = max(self.worst_lag_s, self.last_lag_s)
            self._last_probe = now

    def check(self) -> Liveness:
        """Alive if the last probe ran on time and the probe itself is not overdue."""
        overdue = self._monotonic() - self._last_probe - LOOP_PROBE_INTERVAL_S
        lag = max(self.last_lag_s, overdue)
        if lag > self.max_lag_s:
            return Liveness(False, f"event loop lag {lag:.2f} s")
        return Liveness(True)


class WatchdogPinger:
    """Sends WATCHDOG=1 at half the watchdog timeout, only while all liveness checks pass."""

    name = "watchdog"

    def __init__(self, notifier: SystemdNotifier, checks: list[LivenessCheck]) -> None:
        self._notifier = notifier
        self._checks = checks
        self.pings_sent = 0
        self.pings_withheld = 0
        self.last_failure: str | None = None

    def add_check(self, check: LivenessCheck) -> None:
        self._checks.append(check)

    def check_names(self) -> list[str]:
        """Name of every registered check (`liveness_check_name`), in order."""
        return [liveness_check_name(check) for check in self._checks]

    def evaluate(self) -> Liveness:
        for check in self._checks:
            result = check()
            if not result.alive:
                return result
        return Liveness(True)

    def tick(self) -> bool:
        """One watchdog decision: ping if alive. Returns whether a ping was sent."""
        result = self.evaluate()
        if not result.alive:
            self.pings_withheld += 1
            if result.reason != self.last_failure:
                log.error("watchdog pings withheld: %s", result.reason)
            self.last_failure = result.reason
            return False
        self.last_failure = None
        self._notifier.watchdog()
        self.pings_sent += 1
        return True

    async def run(self) -> None:
        interval = self._notifier.watchdog_interval_s or WATCHDOG_DEFAULT_INTERVAL_S
        while True:
            if self._notifier.watchdog_usec is not None:
                self.tick()
            await asyncio.sleep(interval)
