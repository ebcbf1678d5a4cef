"""The watchdog test hook: only installed for a test started by hand, and it stalls what it names."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest

from gateway.lifecycle.notify import SystemdNotifier
from gateway.lifecycle.stall_hook import HOOK_FILE_ENV, StallHook, install_stall_hook, remove_stall_hook
from gateway.lifecycle.watchdog import Liveness, LoopLagMonitor, WatchdogPinger, liveness_check_name


class FakeControlLoop:
    """Stands for any part that registers a liveness check (the extruder control loop does)."""

    name = "control"

    def check(self) -> Liveness:
        return Liveness(True)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make_pinger() -> WatchdogPinger:
    monitor = LoopLagMonitor(max_lag_s=1.0)
    pinger = WatchdogPinger(SystemdNotifier(None, watchdog_usec=1_000_000), [monitor.check])
    pinger.add_check(FakeControlLoop().check)
    return pinger


async def test_installed_only_for_a_hand_started_test(tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    hook_file = str(tmp_path / "hook.json")
    assert install_stall_hook(loop, make_pinger(), {}) is None
    # under systemd (INVOCATION_ID is set for every unit) the variable is refused
    assert install_stall_hook(loop, make_pinger(), {HOOK_FILE_ENV: hook_file, "INVOCATION_ID": "0f1e"}) is None
    hook = install_stall_hook(loop, make_pinger(), {HOOK_FILE_ENV: hook_file})
    assert isinstance(hook, StallHook)
    remove_stall_hook(loop, hook)


def test_check_names_name_every_registered_check() -> None:
    pinger = make_pinger()
    assert pinger.check_names() == ["event-loop", "control"]
    assert liveness_check_name(lambda: Liveness(True)) == "<lambda>"


def test_fail_check_withholds_pings_for_the_named_check_only_as_long_as_asked(tmp_path: Path) -> None:
    pinger, clock, hook_file = make_pinger(), Clock(), tmp_path / "hook.json"
    hook = StallHook(hook_file, pinger, monotonic=clock)
    assert pinger.tick()
    hook_file.write_text(json.dumps({"action": "fail-check", "check": "control", "seconds": 5}))
    hook.trigger()
    assert not pinger.tick()
    assert pinger.last_failure == "control: stalled by the test hook"
    clock.now += 4.9
    assert not pinger.tick()
    clock.now += 0.2
    assert pinger.tick()
    assert pinger.pings_withheld == 2


def test_block_loop_sleeps_on_the_caller(tmp_path: Path) -> None:
    slept: list[float] = []
    hook_file = tmp_path / "hook.json"
    hook = StallHook(hook_file, make_pinger(), sleep=slept.append)
    hook_file.write_text(json.dumps({"action": "block-loop", "seconds": 2.5}))
    hook.trigger()
    assert slept == [2.5]


@pytest.mark.parametrize("content", [
    "not json",
    json.dumps({"action": "fail-check", "check": "nonexistent", "seconds": 3}),
    json.dumps({"action": "fail-check", "check": "test-stall-hook", "seconds": 3}),
    json.dumps({"action": "explode", "seconds": 3}),
    json.dumps({"action": "block-loop", "seconds": 3600}),
    json.dumps({"action": "block-loop", "seconds": -1}),
    json.dumps({"action": "block-loop"}),
    json.dumps(["block-loop", 3]),
    None,  # no file at all
])
def test_bad_requests_are_logged_and_change_nothing(tmp_path: Path, content: str | None,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    slept: list[float] = []
    hook_file, pinger = tmp_path / "hook.json", make_pinger()
    if content is not None:
        hook_file.write_text(content)
    hook = StallHook(hook_file, pinger, sleep=slept.append)
    with caplog.at_level(logging.ERROR, logger="gateway.lifecycle.stall_hook"):
        hook.trigger()
    assert slept == []
    assert pinger.tick()
    assert caplog.records and "test stall hook" in caplog.records[0].getMessage()
