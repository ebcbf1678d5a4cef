"""`edge-gateway provision --root DIR` twice: the first run sets everything up, the second changes nothing."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.support.provisioned import GATEWAY_ID, run_provision, seed_root, service_ids, snapshot

SECRETS = ("etc/edge-gateway/tls/server.key", "etc/edge-gateway/tls/client.key", "var/lib/edge-gateway/secrets.key")


def test_second_run_changes_nothing(tmp_path: Path) -> None:
    root = seed_root(tmp_path / "root")
    first = run_provision(root, "--gateway-id", GATEWAY_ID, "--listen", "127.0.0.1:18443")
    assert first.returncode == 0, first.stderr
    token = first.stdout.strip()
    assert token.count(".") == 2 and "\n" not in token  # a JWT, alone on stdout
    assert f"provisioned gateway {GATEWAY_ID}" in first.stderr
    before = snapshot(root)

    second = run_provision(root, "--gateway-id", GATEWAY_ID, "--listen", "127.0.0.1:18443")
    assert second.returncode == 0, second.stderr
    assert second.stdout == ""  # no second admin token
    assert "already provisioned, nothing changed" in second.stderr
    assert not any(line.startswith(("created", "replaced", "chmod", "chown")) for line in second.stderr.splitlines())
    after = snapshot(root)
    assert after == before  # same paths, types, modes, owners, mtimes and contents

    # the token was printed once and is stored nowhere; neither run printed or wrote a secret
    for entry_path in before:
        path = root / entry_path
        if path.is_file() and not path.is_symlink():
            assert token.encode() not in path.read_bytes(), entry_path
    secrets = [(root / p).read_bytes().strip() for p in SECRETS]
    for output in (first.stderr, second.stderr, second.stdout):
        assert "PRIVATE KEY" not in output
        assert not any(secret.decode() in output for secret in secrets[-1:])
        assert token not in output


def test_modes_and_owners_are_tight(tmp_path: Path) -> None:
    root = seed_root(tmp_path / "root")
    assert run_provision(root, "--gateway-id", GATEWAY_ID).returncode == 0
    uid, gid = service_ids(root)
    assert 100 <= uid <= 999
    tree = snapshot(root)
    secrets = [*SECRETS, *(f"var/lib/edge-gateway/keys/{p.name}" for p in (root / "var/lib/edge-gateway/keys").glob("*.pem"))]
    assert len(secrets) == 4
    for path in secrets:
        assert tree[path].mode == 0o600, path
        if os.geteuid() == 0:
            assert (tree[path].uid, tree[path].gid) == (uid, gid), path
    for name, entry in tree.items():
        if name.startswith("var/lib/edge-gateway"):  # the state: the service's alone
            assert entry.mode & 0o077 == 0, name
            if os.geteuid() == 0:
                assert entry.uid == uid, name
    assert tree["var/lib/edge-gateway"].mode == 0o700
    assert tree["etc/edge-gateway"].mode == 0o750
    assert tree["etc/edge-gateway/tls"].mode == 0o750
    assert tree["etc/edge-gateway/config.toml"].mode == 0o640
    assert tree["etc/edge-gateway/tls/server.crt"].mode == 0o644
    if os.geteuid() == 0:
        assert (tree["etc/edge-gateway"].uid, tree["etc/edge-gateway"].gid) == (0, gid)
        assert tree["etc/edge-gateway/config.toml"].uid == 0  # the service cannot change its own config
    assert tree["etc/shadow"].mode == 0o640


def test_rendered_config_passes_check_config(tmp_path: Path) -> None:
    root = seed_root(tmp_path / "root")
    assert run_provision(root, "--gateway-id", GATEWAY_ID, "--listen", "127.0.0.1:18443").returncode == 0
    config = root / "etc/edge-gateway/config.toml"
    result = subprocess.run([sys.executable, "-m", "gateway", "check-config", str(config)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"gateway {GATEWAY_ID}, https on 127.0.0.1:18443" in result.stdout


def test_unit_installed_and_enabled(tmp_path: Path) -> None:
    root = seed_root(tmp_path / "root")
    assert run_provision(root).returncode == 0
    unit = root / "etc/systemd/system/edge-gateway.service"
    source = Path(__file__).resolve().parents[2] / "systemd/edge-gateway.service"
    assert unit.read_bytes() == source.read_bytes()
    assert stat.S_IMODE(unit.stat().st_mode) == 0o644
    link = root / "etc/systemd/system/multi-user.target.wants/edge-gateway.service"
    assert os.readlink(link) == "/etc/systemd/system/edge-gateway.service"
