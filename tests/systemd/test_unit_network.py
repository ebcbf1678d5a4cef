"""The unit's resource and network bounds: LimitNOFILE=, and IPAddressDeny=any with IPAddressAllow= rendered
by provisioning when the answers name the site's networks (left out, with a note, when they do not).

Checked offline against provisioned roots: `systemd-analyze verify` stays clean and the exposure of
`systemd-analyze security --offline=true` stays within the limit (1.7 without the allow-list, 1.6 with it).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from provisioning.answers import SiteAnswers
from provisioning.run import provision
from provisioning.unit import ALLOW_LIST_BEGIN, ALLOW_LIST_END
from tests.support.provisioned import (
    GATEWAY_ID,
    UNIT,
    seed_root,
    stage_for_systemd,
    unit_settings,
)

EXPOSURE_LIMIT = 2.0
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
EXPOSURE_LINE = re.compile(r"Overall exposure level for edge-gateway\.service: (\d+\.\d+)")
SITE = {"lan_networks": ["10.20.0.0/16", "fd00:20::/64"], "printer_networks": ["192.168.40.0/24"],
        "upstream_networks": ["203.0.113.10/32"]}


def provisioned(base: Path, answers: SiteAnswers) -> tuple[Path, list[str]]:
    if SYSTEMD_ANALYZE is None:
        pytest.fail("systemd-analyze not found: install Debian's 'systemd' package (provisioning/dev.sh does)")
    root = seed_root(base / "root")
    result = provision(root, answers)
    stage_for_systemd(root)
    return root, result.changes.notes


@pytest.fixture(scope="module")
def site_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root, _ = provisioned(tmp_path_factory.mktemp("site"), SiteAnswers(gateway_id=GATEWAY_ID, **SITE))
    return root


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    assert SYSTEMD_ANALYZE is not None
    return subprocess.run([SYSTEMD_ANALYZE, *args], capture_output=True, text=True, timeout=60)


def exposure(unit: Path) -> float:
    result = analyze("security", "--offline=true", "--no-pager", str(unit))
    match = EXPOSURE_LINE.search(result.stdout + result.stderr)
    assert match is not None, result.stdout + result.stderr
    return float(match.group(1))


def test_open_files_are_bounded() -> None:
    source = unit_settings(Path(__file__).resolve().parents[2] / "systemd/edge-gateway.service")
    assert source["Service.LimitNOFILE"] == ["2048"]  # one value: soft and hard limit alike


def test_site_networks_are_rendered_into_the_allow_list(site_root: Path) -> None:
    unit = unit_settings(site_root / UNIT)
    assert unit["Service.IPAddressDeny"] == ["any"]
    assert unit["Service.IPAddressAllow"] == ["localhost", "10.20.0.0/16", "fd00:20::/64", "192.168.40.0/24",
                                              "203.0.113.10/32"]
    assert unit["Service.LimitNOFILE"] == ["2048"]
    text = (site_root / UNIT).read_text()
    assert "LAN 10.20.0.0/16, fd00:20::/64; printer VLAN 192.168.40.0/24; upstream 203.0.113.10/32" in text
    assert "Left out" not in text
    assert text.count(ALLOW_LIST_BEGIN) == 1 and text.count(ALLOW_LIST_END) == 1


def test_rendered_unit_verifies_clean_and_scores_within_the_limit(site_root: Path, tmp_path: Path) -> None:
    result = analyze("verify", f"--root={site_root}", "edge-gateway.service")
    assert result.returncode == 0, result.stderr
    assert result.stderr == "" and result.stdout == ""
    with_list = exposure(site_root / UNIT)
    without_root, _ = provisioned(tmp_path, SiteAnswers(gateway_id=GATEWAY_ID))
    without = exposure(without_root / UNIT)
    print(f"\nexposure: {with_list} with the IP allow-list, {without} without (limit {EXPOSURE_LIMIT})")
    assert with_list <= EXPOSURE_LIMIT and without <= EXPOSURE_LIMIT
    assert with_list < without


@pytest.mark.parametrize("missing", ["lan_networks", "printer_networks", "upstream_networks"])
def test_allow_list_left_out_with_a_note_unless_every_network_is_named(tmp_path: Path, missing: str) -> None:
    answers = {key: value for key, value in SITE.items() if key != missing}
    root, notes = provisioned(tmp_path, SiteAnswers(gateway_id=GATEWAY_ID, **answers))
    unit = unit_settings(root / UNIT)
    assert "Service.IPAddressDeny" not in unit and "Service.IPAddressAllow" not in unit
    source = Path(__file__).resolve().parents[2] / "systemd/edge-gateway.service"
    assert (root / UNIT).read_bytes() == source.read_bytes()  # installed as shipped, its comment says why
    assert "Left out: the provisioning answers do not name the site's networks" in (root / UNIT).read_text()
    note = next(n for n in notes if "IP allow-list" in n)
    assert missing in note and "left out" in note
    assert analyze("verify", f"--root={root}", "edge-gateway.service").returncode == 0


def test_a_site_without_upstream_names_it_as_empty(tmp_path: Path) -> None:
    root, notes = provisioned(tmp_path, SiteAnswers(gateway_id=GATEWAY_ID, lan_networks=["10.20.0.0/16"],
                                                    printer_networks=["192.168.40.0/24"], upstream_networks=[]))
    unit = unit_settings(root / UNIT)
    assert unit["Service.IPAddressDeny"] == ["any"]
    assert unit["Service.IPAddressAllow"] == ["localhost", "10.20.0.0/16", "192.168.40.0/24"]
    assert "upstream (none)" in (root / UNIT).read_text()
    assert not [n for n in notes if "IP allow-list" in n]
