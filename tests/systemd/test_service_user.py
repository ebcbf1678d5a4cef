"""The unit's ExecStart run as the provisioned service user (its uid, its group, dialout and gpio), as
systemd's User=/Group=/SupplementaryGroups= would: the tight modes provisioning set still let the
service read its config and TLS key and write its state, and nothing more is needed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from provisioning.answers import SiteAnswers
from provisioning.run import provision
from tests.support.net import free_port
from tests.support.notify import NotifyListener
from tests.support.provisioned import GATEWAY_ID, UNIT, seed_root, service_ids, stage_for_systemd, unit_settings

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="switching to the service user needs root")


def group_id(root: Path, name: str) -> int:
    for line in (root / "etc/group").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == name:
            return int(fields[2])
    raise AssertionError(f"no group {name}")


@pytest.fixture
def world_traversable_dir() -> Iterator[Path]:
    """pytest's tmp_path is private to root; the service user must reach the provisioned root."""
    base = Path(tempfile.mkdtemp(prefix="edge-gateway-user-", dir="/tmp"))
    base.chmod(0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_exec_start_as_the_service_user(world_traversable_dir: Path) -> None:
    base = world_traversable_dir
    root = seed_root(base / "root")
    port = free_port()
    result = provision(root, SiteAnswers(gateway_id=GATEWAY_ID, listen=[f"127.0.0.1:{port}"]))
    stage_for_systemd(root)
    uid, gid = service_ids(root)
    groups = [group_id(root, name) for name in unit_settings(root / UNIT)["Service.SupplementaryGroups"][0].split()]
    as_service = {"user": uid, "group": gid, "extra_groups": groups}
    try:
        probe = subprocess.run([sys.executable, "-c", "import gateway"], capture_output=True, timeout=60,
                               **as_service)
        problem = probe.stderr.decode()[-200:] if probe.returncode != 0 else None
    except PermissionError as exc:
        problem = str(exc)
    if problem is not None:  # e.g. an interpreter under root's private home, as in some sandboxes
        pytest.skip(f"the service user cannot run this checkout's Python: {problem}")

    listener = NotifyListener(base / "notify.sock")
    (base / "notify.sock").chmod(0o666)  # systemd's socket takes every service's messages
    argv = [str(root / a.lstrip("/")) if a.startswith("/") and (root / a.lstrip("/")).exists() else a
            for a in unit_settings(root / UNIT)["Service.ExecStart"][0].split()]
    env = {k: v for k, v in os.environ.items() if k not in ("INVOCATION_ID", "EDGE_GATEWAY_TEST_HOOK_FILE")}
    env.update(NOTIFY_SOCKET=str(base / "notify.sock"), WATCHDOG_USEC="1000000", HOME=str(base))
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **as_service)
    try:
        ready = listener.wait_for("READY", 30)
        assert ready["MAINPID"] == str(process.pid)
        listener.wait_for("WATCHDOG", 10)
        tls = ssl.create_default_context(cafile=str(root / "etc/edge-gateway/tls/server.crt"))
        request = urllib.request.Request(f"https://127.0.0.1:{port}/api/v1/status",
                                         headers={"Authorization": f"Bearer {result.admin_token}"})
        with urllib.request.urlopen(request, context=tls, timeout=10) as response:
            assert response.status == 200
            assert json.loads(response.read())["state"] in ("ok", "degraded")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        listener.close()
    stderr = process.stderr.read().decode() if process.stderr else ""
    assert "Traceback" not in stderr and "ermission denied" not in stderr, stderr
    for path in (root / "var/lib/edge-gateway").rglob("*"):  # what the service wrote is its own, private
        st = path.lstat()
        assert st.st_uid == uid and st.st_mode & 0o077 == 0, (path, oct(st.st_mode))
