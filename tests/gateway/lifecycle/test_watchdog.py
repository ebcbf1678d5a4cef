"""WATCHDOG=1 only while the event loop and every registered liveness check are healthy."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

from gateway.lifecycle.notify import SystemdNotifier
from gateway.lifecycle.watchdog import Liveness, LoopLagMonitor, WatchdogPinger


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_pings_only_while_all_checks_pass(tmp_path: Path) -> None:
    path = tmp_path / "n.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.setblocking(False)
    control_alive = Liveness(True)
    pinger = WatchdogPinger(SystemdNotifier(str(path), watchdog_usec=1_000_000), [lambda: control_alive])
    assert pinger.tick() is True
    assert sock.recv(64) == b"WATCHDOG=1"
    control_alive = Liveness(False, "control loop stalled")
    assert pinger.tick() is False
    assert pinger.last_failure == "control loop stalled"
    try:
        sock.recv(64)
        raise AssertionError("a ping was sent while the control loop was stalled")
    except BlockingIOError:
        pass
    control_alive = Liveness(True)
    assert pinger.tick() is True and pinger.last_failure is None
    assert (pinger.pings_sent, pinger.pings_withheld) == (2, 1)
    sock.close()


def test_loop_lag_monitor_detects_overdue_probe() -> None:
    clock = FakeMonotonic()
    monitor = LoopLagMonitor(max_lag_s=1.0, monotonic=clock)
    assert monitor.check().alive
    clock.now += 3.0  # the probe task has not run for 3 s: the loop is stalled
    result = monitor.check()
    assert not result.alive and "event loop lag" in result.reason


async def test_loop_lag_measured_when_the_loop_is_blocked() -> None:
    monitor = LoopLagMonitor(max_lag_s=0.1)
    task = asyncio.create_task(monitor.run())
    await asyncio.sleep(0.3)
    time.sleep(0.8)  # block the event loop on purpose
    await asyncio.sleep(0.3)
    task.cancel()
    # the probe was due at most LOOP_PROBE_INTERVAL_S (0.25 s) into the block: it ran >= 0.55 s late
    assert monitor.worst_lag_s >= 0.5
