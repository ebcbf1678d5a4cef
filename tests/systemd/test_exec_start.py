"""The installed unit's ExecStart, run by hand against a provisioned root as systemd would run it:
READY=1 and regular WATCHDOG=1 on a test NOTIFY_SOCKET, the API over TLS with the device certificate,
and no WATCHDOG=1 while the event loop, or a registered liveness check (the event loop's, the extruder
control loop's) is stalled (the test hook). The extruder runs as on the simulated site (simulated board)."""

from __future__ import annotations

import json
import os
import shlex
import signal
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from provisioning.answers import SiteAnswers
from provisioning.run import provision
from tests.support.net import free_port
from tests.support.notify import NotifyListener
from tests.support.provisioned import GATEWAY_ID, UNIT, seed_root, stage_for_systemd, unit_settings

WATCHDOG_USEC = 1_000_000
"""The unit says WatchdogSec=10; the test uses 1 s so that pings come every 0.5 s."""
STALL_S = 3.0
STALL_GAP_MIN_S = 2.5
"""A stall of STALL_S shows as at least this long a gap between two WATCHDOG=1 (normal: ~0.5 s)."""


class StampedMessages(list):
    """The listener's message list, with the monotonic arrival time of each message under "_at"."""

    def append(self, message: dict[str, str]) -> None:  # type: ignore[override]
        message["_at"] = str(time.monotonic())
        super().append(message)


@dataclass
class Service:
    process: subprocess.Popen[bytes]
    listener: NotifyListener
    hook_file: Path
    url: str
    tls: ssl.SSLContext
    token: str

    def pings(self, after: float = 0.0) -> list[float]:
        return [float(m["_at"]) for m in list(self.listener.messages) if "WATCHDOG" in m and float(m["_at"]) > after]

    def wait_for_pings(self, count: int, after: float, timeout_s: float) -> list[float]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if len(pings := self.pings(after)) >= count:
                return pings
            time.sleep(0.05)
        raise AssertionError(f"fewer than {count} WATCHDOG=1 within {timeout_s} s: {self.pings(after)}")

    def stall(self, request: dict[str, object]) -> float:
        self.hook_file.write_text(json.dumps(request))
        sent = time.monotonic()
        self.process.send_signal(signal.SIGUSR2)
        return sent

    def get(self, path: str) -> tuple[int, dict[str, object]]:
        request = urllib.request.Request(self.url + path, headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(request, context=self.tls, timeout=10) as response:
            return response.status, json.loads(response.read())


def simulate_extruder(config_file: Path) -> None:
    """Switch on the extruder as the simulated site has it (simulated board on a pty, mock GPIO pins),
    so the control loop runs and registers its liveness check ("extruder") with the watchdog."""
    text = config_file.read_text()
    provisioned = 'enabled = false'
    assert text.count(provisioned) == 1
    config_file.write_text(text.replace(provisioned, 'enabled = true\nsimulator = true') +
                           '\n[extruder.gpio]\npin_factory = "mock"\n')


def exec_start_for(root: Path) -> list[str]:
    """The unit's ExecStart with device paths placed under the provisioned root."""
    argv = shlex.split(unit_settings(root / UNIT)["Service.ExecStart"][0])
    return [str(root / arg.lstrip("/")) if arg.startswith("/") and (root / arg.lstrip("/")).exists() else arg
            for arg in argv]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    base = tmp_path_factory.mktemp("device")
    root = seed_root(base / "root")
    port = free_port()
    result = provision(root, SiteAnswers(gateway_id=GATEWAY_ID, listen=[f"127.0.0.1:{port}"]))
    assert result.admin_token is not None
    simulate_extruder(root / "etc/edge-gateway/config.toml")
    stage_for_systemd(root)
    argv = exec_start_for(root)
    assert argv[0] == str(root / "opt/edge-gateway/venv/bin/edge-gateway")
    assert argv[-1] == str(root / "etc/edge-gateway/config.toml")
    listener = NotifyListener(base / "notify.sock")
    listener.messages = StampedMessages()
    hook_file = base / "stall.json"
    env = {k: v for k, v in os.environ.items() if k != "INVOCATION_ID"}
    env.update(NOTIFY_SOCKET=str(base / "notify.sock"), WATCHDOG_USEC=str(WATCHDOG_USEC),
               EDGE_GATEWAY_TEST_HOOK_FILE=str(hook_file))
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    tls = ssl.create_default_context(cafile=str(root / "etc/edge-gateway/tls/server.crt"))
    svc = Service(process, listener, hook_file, f"https://127.0.0.1:{port}", tls, result.admin_token)
    try:
        yield svc
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        listener.close()


def test_ready_then_regular_watchdog_pings(service: Service) -> None:
    ready = service.listener.wait_for("READY", 30)
    assert ready["MAINPID"] == str(service.process.pid)  # the wrapper exec's the gateway: one process
    pings = service.wait_for_pings(4, after=float(ready["_at"]), timeout_s=10)
    gaps = [b - a for a, b in zip(pings, pings[1:])]
    assert max(gaps) < STALL_GAP_MIN_S, gaps


def test_api_serves_with_the_device_certificate(service: Service) -> None:
    service.listener.wait_for("READY", 30)
    status, body = service.get("/api/v1/status")
    assert status == 200
    assert body["gateway_id"] == GATEWAY_ID
    assert body["watchdog"]["enabled"] is True
    assert {part["name"]: part["state"] for part in body["parts"]}.get("extruder") == "running"


@pytest.mark.parametrize("request_", [
    {"action": "block-loop", "seconds": STALL_S},
    {"action": "fail-check", "check": "event-loop", "seconds": STALL_S},
    {"action": "fail-check", "check": "extruder", "seconds": STALL_S},
], ids=["event-loop-blocked", "event-loop-check-failing", "control-loop-check-failing"])
def test_pings_stop_while_stalled_and_resume_after(service: Service, request_: dict[str, object]) -> None:
    service.listener.wait_for("READY", 30)
    service.wait_for_pings(2, after=time.monotonic() - 0.1, timeout_s=10)  # pinging before the stall
    sent = service.stall(request_)
    service.wait_for_pings(3, after=sent + STALL_S, timeout_s=STALL_S + 15)  # pinging again afterwards
    around = service.pings(after=sent - 2.0)
    gaps = [b - a for a, b in zip(around, around[1:])]
    assert max(gaps) >= STALL_GAP_MIN_S, gaps  # no ping for (about) the whole stall
    if request_["action"] == "fail-check":  # the pinger ran and decided not to ping
        _, body = service.get("/api/v1/status")
        assert body["watchdog"]["pings_withheld"] >= 1


def test_sigterm_exits_0_and_logs_no_secret(service: Service) -> None:
    service.listener.wait_for("READY", 30)
    service.process.send_signal(signal.SIGTERM)
    assert service.process.wait(timeout=20) == 0
    assert service.listener.wait_for("STOPPING", 5)["STOPPING"] == "1"
    stderr = service.process.stderr.read().decode() if service.process.stderr else ""
    assert "Traceback" not in stderr
    assert service.token not in stderr
    assert "TEST STALL HOOK INSTALLED" in stderr  # a hand-started test run says so loudly
