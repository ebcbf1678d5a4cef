"""The installed unit passes `systemd-analyze verify` and `systemd-analyze security --offline=true` <= 2.0.

Both run offline against a provisioned root; no running systemd is needed (this machine's PID 1 is not
systemd). `verify --root` needs systemd's own units and the ExecStart program in that root, as a real
system has them (`stage_for_systemd`).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from provisioning.answers import SiteAnswers
from provisioning.run import provision
from tests.support.provisioned import GATEWAY_ID, UNIT, seed_root, stage_for_systemd, unit_settings

EXPOSURE_LIMIT = 2.0
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
EXPOSURE_LINE = re.compile(r"Overall exposure level for edge-gateway\.service: (\d+\.\d+)")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if SYSTEMD_ANALYZE is None:
        pytest.fail("systemd-analyze not found: install Debian's 'systemd' package (provisioning/dev.sh does)")
    root = seed_root(tmp_path_factory.mktemp("device") / "root")
    provision(root, SiteAnswers(gateway_id=GATEWAY_ID))
    stage_for_systemd(root)
    return root


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    assert SYSTEMD_ANALYZE is not None
    return subprocess.run([SYSTEMD_ANALYZE, *args], capture_output=True, text=True, timeout=60)


def test_verify_is_clean(root: Path) -> None:
    result = analyze("verify", f"--root={root}", "edge-gateway.service")
    assert result.returncode == 0, result.stderr
    assert result.stderr == "" and result.stdout == ""  # not even a warning


def test_verify_would_notice_a_broken_unit(root: Path, tmp_path: Path) -> None:
    """The check above is not vacuous: a misspelt key and a missing program are reported."""
    broken = tmp_path / "root"
    shutil.copytree(root, broken, symlinks=True)
    unit = broken / UNIT
    unit.write_text(unit.read_text().replace("ProtectHome=yes", "ProtectHomes=yes"))
    result = analyze("verify", f"--root={broken}", "edge-gateway.service")
    assert "Unknown key 'ProtectHomes'" in result.stderr
    (broken / "opt/edge-gateway/venv/bin/edge-gateway").unlink()
    result = analyze("verify", f"--root={broken}", "edge-gateway.service")
    assert result.returncode != 0 and "is not executable" in result.stderr


def test_security_exposure_is_at_most_2(root: Path) -> None:
    result = analyze("security", "--offline=true", "--no-pager", str(root / UNIT))
    match = EXPOSURE_LINE.search(result.stdout + result.stderr)
    assert match is not None, result.stdout + result.stderr
    exposure = float(match.group(1))
    print(f"\nsystemd-analyze security --offline=true: exposure {exposure} (limit {EXPOSURE_LIMIT})")
    assert exposure <= EXPOSURE_LIMIT


def test_unit_has_the_service_contract_and_the_sandbox(root: Path) -> None:
    unit = unit_settings(root / UNIT)

    def one(key: str) -> str:
        values = unit[key]
        assert len(values) == 1, (key, values)
        return values[0]

    assert one("Service.Type") == "notify"
    assert one("Service.NotifyAccess") == "main"  # the control and simulator subprocesses cannot notify
    assert int(one("Service.WatchdogSec")) > 0
    assert one("Service.Restart") == "on-failure"
    assert int(one("Unit.StartLimitBurst")) > 0 and int(one("Unit.StartLimitIntervalSec")) > 0
    assert one("Service.User") == "edge-gateway" and one("Service.Group") == "edge-gateway"
    assert one("Service.SupplementaryGroups").split() == ["dialout", "gpio"]
    assert one("Service.StateDirectory") == "edge-gateway"
    assert one("Service.ConfigurationDirectory") == "edge-gateway"
    assert one("Service.ExecStart").endswith("serve --config /etc/edge-gateway/config.toml")
    for key, value in {"ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
                       "NoNewPrivileges": "yes", "CapabilityBoundingSet": "", "DevicePolicy": "closed",
                       "MemoryDenyWriteExecute": "yes", "LockPersonality": "yes", "RestrictSUIDSGID": "yes",
                       "ProtectKernelTunables": "yes", "ProtectControlGroups": "yes"}.items():
        assert one(f"Service.{key}") == value, key
    # devices: the USB serial classes (the extruder board behind /dev/extruder) and the GPIO chips only
    assert unit["Service.DeviceAllow"] == ["char-ttyACM rw", "char-ttyUSB rw", "char-gpiochip rw"]
    assert "PrivateDevices" not in unit  # would hide /dev/extruder and /dev/gpiochip*
    assert one("Service.RestrictAddressFamilies").split() == ["AF_UNIX", "AF_INET", "AF_INET6"]
    assert unit["Service.SystemCallFilter"][0] == "@system-service"
    assert one("Service.MemoryMax").endswith("M")
    assert one("Service.UnsetEnvironment") == "EDGE_GATEWAY_TEST_HOOK_FILE"
    assert one("Install.WantedBy") == "multi-user.target"
