"""A stall hook for tests of the systemd watchdog: makes the running service stall on request.

It exists only in a process started by hand for a test, never in the service:

* `EDGE_GATEWAY_TEST_HOOK_FILE` must name a file, AND
* the process must not be run by a service manager: systemd sets `INVOCATION_ID` for every unit it
  starts, and the hook refuses to install when it is set. The unit also drops the variable
  (`UnsetEnvironment=`), so editing the unit's environment cannot switch the hook on either.

When installed it says so in the log. On SIGUSR2 it reads the file (JSON, at most `HOOK_FILE_MAX_BYTES`):

* `{"action": "block-loop", "seconds": 3}` blocks the event loop for that long (a `time.sleep` on the
  loop, as a hung call would): nothing runs, so no WATCHDOG=1 goes out, and the lag monitor keeps the
  pings withheld until the loop has caught up.
* `{"action": "fail-check", "check": "control", "seconds": 3}` makes the registered liveness check of
  that name (see `liveness_check_name`) count as failed for that long, as when that part stalls. It
  works for every check registered with `WatchdogPinger.add_check`, now or later.

A bad file is logged and ignored; it never stops the service.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from gateway.lifecycle.watchdog import Liveness, WatchdogPinger

log = logging.getLogger(__name__)

HOOK_FILE_ENV = "EDGE_GATEWAY_TEST_HOOK_FILE"
SERVICE_MANAGER_ENV = "INVOCATION_ID"
HOOK_SIGNAL = signal.SIGUSR2
HOOK_FILE_MAX_BYTES = 1024
STALL_MAX_S = 120.0
"""Longest stall one request may ask for."""


class StallHook:
    """Reads stall requests from `path` on SIGUSR2 and applies them (see the module docstring)."""

    name = "test-stall-hook"

    def __init__(self, path: Path, pinger: WatchdogPinger, *, monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._path = path
        self._pinger = pinger
        self._monotonic = monotonic
        self._sleep = sleep
        self._failing: dict[str, float] = {}  # check name -> monotonic time the forced failure ends
        pinger.add_check(self.check)

    def check(self) -> Liveness:
        """The liveness check the hook adds: failed while a named check is forced to fail."""
        now = self._monotonic()
        for name, until in list(self._failing.items()):
            if now < until:
                return Liveness(False, f"{name}: stalled by the test hook")
            del self._failing[name]
        return Liveness(True)

    def trigger(self) -> None:
        """Read the hook file and apply the request (the SIGUSR2 handler; runs on the event loop)."""
        try:
            with self._path.open("rb") as handle:
                request = json.loads(handle.read(HOOK_FILE_MAX_BYTES + 1)[: HOOK_FILE_MAX_BYTES])
            action, seconds = request["action"], float(request["seconds"])
            if not 0 < seconds <= STALL_MAX_S:
                raise ValueError(f"seconds must be in (0, {STALL_MAX_S:g}]")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.error("test stall hook: unusable request in %s: %s", self._path, exc)
            return
        if action == "block-loop":
            log.warning("test stall hook: blocking the event loop for %.1f s", seconds)
            self._sleep(seconds)
        elif action == "fail-check":
            name = request.get("check")
            known = [n for n in self._pinger.check_names() if n != self.name]
            if name not in known:
                log.error("test stall hook: no liveness check %r (registered: %s)", name, ", ".join(known))
                return
            log.warning("test stall hook: liveness check %s fails for %.1f s", name, seconds)
            self._failing[name] = self._monotonic() + seconds
        else:
            log.error("test stall hook: unknown action %r (block-loop, fail-check)", action)


def install_stall_hook(loop: asyncio.AbstractEventLoop, pinger: WatchdogPinger,
                       environ: Mapping[str, str]) -> StallHook | None:
    """The hook, with its SIGUSR2 handler on `loop`, when (and only when) a test asks for it."""
    path = environ.get(HOOK_FILE_ENV)
    if not path:
        return None
    if environ.get(SERVICE_MANAGER_ENV):
        log.warning("%s ignored: the test stall hook never runs under a service manager", HOOK_FILE_ENV)
        return None
    hook = StallHook(Path(path), pinger)
    loop.add_signal_handler(HOOK_SIGNAL, hook.trigger)
    log.warning("TEST STALL HOOK INSTALLED (%s=%s): SIGUSR2 stalls this process; never for production",
                HOOK_FILE_ENV, path)
    return hook


def remove_stall_hook(loop: asyncio.AbstractEventLoop, hook: StallHook | None) -> None:
    if hook is not None:
        loop.remove_signal_handler(HOOK_SIGNAL)
