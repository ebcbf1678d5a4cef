"""Site values from an answers file and flags; bad values and conflicts are clear errors, not tracebacks."""

from __future__ import annotations

from pathlib import Path

from tests.support.provisioned import GATEWAY_ID, call_provision, seed_root


def test_answers_file_values_reach_config_udev_and_certificate(tmp_path: Path) -> None:
    root = seed_root(tmp_path / "root")
    answers = tmp_path / "site.toml"
    answers.write_text(
        f'gateway_id = "{GATEWAY_ID}"\nlisten = ["[::1]:18444"]\n'
        'extruder_usb_id = "1a86:7523"\nextruder_usb_serial = "BOARD-0042"\n'
    )
    result = call_provision(root, "--answers", str(answers), "--listen", "127.0.0.1:18445")  # the flag wins
    assert result.returncode == 0, result.stderr
    config = (root / "etc/edge-gateway/config.toml").read_text()
    assert f'id = "{GATEWAY_ID}"' in config
    assert 'listen = [{ host = "127.0.0.1", port = 18445 }]' in config
    assert 'port = "/dev/extruder"' in config  # the name the udev rule gives the board
    rule = (root / "etc/udev/rules.d/90-edge-gateway.rules").read_text()
    assert 'ATTRS{idVendor}=="1a86", ATTRS{idProduct}=="7523", ATTRS{serial}=="BOARD-0042", SYMLINK+="extruder"' in rule
    assert 'SUBSYSTEM=="gpio", KERNEL=="gpiochip*", GROUP="gpio", MODE="0660"' in rule


def test_generated_gateway_id_is_kept(tmp_path: Path) -> None:
    root = seed_root(tmp_path / "root")
    assert call_provision(root).returncode == 0
    gateway_id = (root / "etc/edge-gateway/gateway-id").read_text().strip()
    assert gateway_id.startswith("gw-") and len(gateway_id) == 11
    again = call_provision(root, "--gateway-id", "gw-other-01")
    assert again.returncode == 1
    assert f"already gateway '{gateway_id}'" in again.stderr and "Traceback" not in again.stderr


def test_bad_site_values_are_usage_errors(tmp_path: Path) -> None:
    root = seed_root(tmp_path / "root")
    bad_answers = tmp_path / "bad.toml"
    bad_answers.write_text('listen = ["printer.local:80"]\nunknown_key = 1\n')
    cases = [
        ("--listen", "localhost:8443"),
        ("--listen", "127.0.0.1:99999"),
        ("--gateway-id", "Not_Valid"),
        ("--extruder-usb-id", "2e8a"),
        ("--answers", str(bad_answers)),
        ("--answers", str(tmp_path / "missing.toml")),
    ]
    for flag, value in cases:
        result = call_provision(root, flag, value)
        assert result.returncode == 2, (flag, value, result.stderr)
        assert result.stderr.startswith("edge-gateway: "), result.stderr
        assert "Traceback" not in result.stderr
    assert not (root / "etc/edge-gateway").exists()  # nothing was half-provisioned
    bad_toml = tmp_path / "broken.toml"
    bad_toml.write_text("listen = [")
    result = call_provision(root, "--answers", str(bad_toml))
    assert result.returncode == 2 and "not valid TOML" in result.stderr


def test_accounts_in_a_staged_root(tmp_path: Path) -> None:
    root = seed_root(tmp_path / "root")
    (root / "etc/group").write_text((root / "etc/group").read_text() + "gpio:x:997:pi\n")  # Raspberry Pi OS has it
    assert call_provision(root).returncode == 0
    passwd = (root / "etc/passwd").read_text().splitlines()
    assert passwd[0].startswith("root:x:0:0:")  # existing entries kept, in order
    user = next(line.split(":") for line in passwd if line.startswith("edge-gateway:"))
    assert user[5:] == ["/var/lib/edge-gateway", "/usr/sbin/nologin"]
    groups = {line.split(":")[0]: line.split(":") for line in (root / "etc/group").read_text().splitlines()}
    assert groups["dialout"][2:] == ["20", "edge-gateway"]
    assert groups["gpio"][2:] == ["997", "pi,edge-gateway"]  # reused, member appended
    assert groups["edge-gateway"][2] == user[3]
    shadow = (root / "etc/shadow").read_text()
    assert "edge-gateway:!*:" in shadow  # locked: nobody logs in as the service
    assert "dialout:*::edge-gateway" in (root / "etc/gshadow").read_text()


def test_site_networks_from_the_answers_file(tmp_path: Path) -> None:
    """The networks reach the unit's IP allow-list; a re-run changes nothing; new networks replace it."""
    root = seed_root(tmp_path / "root")
    answers = tmp_path / "site.toml"
    answers.write_text(
        f'gateway_id = "{GATEWAY_ID}"\nlan_networks = ["10.20.0.0/16"]\nprinter_networks = ["192.168.40.0/24"]\n'
        'upstream_networks = ["203.0.113.10"]\n'
    )
    first = call_provision(root, "--answers", str(answers))
    assert first.returncode == 0, first.stderr
    unit = (root / "etc/systemd/system/edge-gateway.service").read_text()
    assert "IPAddressDeny=any\nIPAddressAllow=localhost\nIPAddressAllow=10.20.0.0/16\n" in unit
    assert "IPAddressAllow=192.168.40.0/24\nIPAddressAllow=203.0.113.10/32\n" in unit
    assert "IP allow-list" not in first.stderr
    again = call_provision(root, "--answers", str(answers))
    assert again.returncode == 0 and "already provisioned, nothing changed" in again.stderr
    answers.write_text(answers.read_text().replace("192.168.40.0/24", "192.168.41.0/24"))
    moved = call_provision(root, "--answers", str(answers))
    assert moved.returncode == 0, moved.stderr
    assert "systemd unit" in moved.stderr or "edge-gateway.service" in moved.stderr
    assert "IPAddressAllow=192.168.41.0/24" in (root / "etc/systemd/system/edge-gateway.service").read_text()


def test_without_site_networks_provisioning_says_the_allow_list_is_left_out(tmp_path: Path) -> None:
    root = seed_root(tmp_path / "root")
    result = call_provision(root, "--gateway-id", GATEWAY_ID)
    assert result.returncode == 0, result.stderr
    assert "IP allow-list (IPAddressDeny=any) is left out" in result.stderr
    assert "lan_networks, printer_networks, upstream_networks" in result.stderr
    assert "IPAddressDeny" not in "".join(
        line for line in (root / "etc/systemd/system/edge-gateway.service").read_text().splitlines(keepends=True)
        if not line.startswith("#")
    )


def test_bad_site_networks_are_usage_errors(tmp_path: Path) -> None:
    root = seed_root(tmp_path / "root")
    for value, says in (('["192.168.40.2/24"]', "host bits set"), ('["0.0.0.0/0"]', "matches every address"),
                        ('["printers.local"]', "not an IP network"), ('"10.0.0.0/8"', "list"),
                        ('["::/0"]', "matches every address")):
        answers = tmp_path / "bad-networks.toml"
        answers.write_text(f"printer_networks = {value}\n")
        result = call_provision(root, "--answers", str(answers))
        assert result.returncode == 2, (value, result.stderr)
        assert "printer_networks" in result.stderr and says in result.stderr, (value, result.stderr)
        assert "Traceback" not in result.stderr
    assert not (root / "etc/edge-gateway").exists()
