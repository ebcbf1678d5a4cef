"""Restore as the README says: unpack a backup of /etc/edge-gateway and /var/lib/edge-gateway onto a fresh
system, provision: the device keeps its identity and keys, and everything belongs to the new service user."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.support.provisioned import GATEWAY_ID, call_provision, seed_root, service_ids, snapshot

BACKED_UP = ("etc/edge-gateway", "var/lib/edge-gateway")
OTHER_UID = 4242  # the files' owner on the old device, unknown on the new one


@pytest.mark.skipif(os.geteuid() != 0, reason="restoring ownership needs root, as on a device")
def test_restore_keeps_identity_and_gives_files_to_the_new_user(tmp_path: Path) -> None:
    old = seed_root(tmp_path / "old")
    assert call_provision(old, "--gateway-id", GATEWAY_ID).returncode == 0
    new = seed_root(tmp_path / "new")
    (new / "etc/group").write_text((new / "etc/group").read_text() + "other:x:999:\n")  # ids differ on the new Pi
    for part in BACKED_UP:
        shutil.copytree(old / part, new / part, symlinks=True)
        for directory, subdirs, files in os.walk(new / part):
            for name in [directory, *(os.path.join(directory, n) for n in [*subdirs, *files])]:
                os.chown(name, OTHER_UID, OTHER_UID, follow_symlinks=False)
    result = call_provision(new)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # the first admin token was issued on the old device already
    uid, gid = service_ids(new)
    assert uid != OTHER_UID
    before, after = snapshot(old), snapshot(new)
    for path, entry in before.items():
        if path.startswith(BACKED_UP):
            assert after[path].content == entry.content, path  # same id, config, keys, certificates, state
            assert after[path].mode == entry.mode, path
            assert after[path].uid in (0, uid), path
            assert after[path].uid != OTHER_UID and after[path].gid in (0, gid), path
    assert after["var/lib/edge-gateway/secrets.key"].uid == uid
    assert after["etc/edge-gateway/tls/server.key"].uid == uid
