"""A provisioned device tree in a temporary root: seeding it, provisioning it, and snapshots to compare."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shlex
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

GATEWAY_ID = "gw-prov-test-01"

# A Debian base system's account files, as far as provisioning cares (root, shadow, dialout).
SEED_PASSWD = "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
SEED_GROUP = "root:x:0:\nshadow:x:42:\ndialout:x:20:\nnogroup:x:65534:\n"
SEED_SHADOW = "root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n"
SEED_GSHADOW = "root:*::\nshadow:*::\ndialout:*::\nnogroup:*::\n"


def seed_root(root: Path) -> Path:
    """A root holding only a base system's account files."""
    etc = root / "etc"
    etc.mkdir(parents=True, exist_ok=True)
    for name, text, mode in (("passwd", SEED_PASSWD, 0o644), ("group", SEED_GROUP, 0o644),
                             ("shadow", SEED_SHADOW, 0o640), ("gshadow", SEED_GSHADOW, 0o640)):
        (etc / name).write_text(text)
        (etc / name).chmod(mode)
    return root


def run_provision(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`edge-gateway provision --root ROOT ...` as a real command (a process of its own)."""
    return subprocess.run([sys.executable, "-m", "gateway", "provision", "--root", str(root), *args],
                          capture_output=True, text=True, timeout=120)


def call_provision(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The same command line run in this process (the CLI's `main`), for the many small cases."""
    from gateway.cli.main import main

    argv = ["provision", "--root", str(root), *args]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse usage errors
            code = int(exc.code or 0)
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


@dataclass(frozen=True)
class Entry:
    kind: str
    mode: int
    uid: int
    gid: int
    mtime_ns: int
    content: str  # sha256 of a file, target of a link, "" for a directory


def snapshot(root: Path) -> dict[str, Entry]:
    """Every path under `root` with its type, mode, owner, modification time and content digest."""
    tree: dict[str, Entry] = {}
    for directory, subdirs, files in os.walk(root):
        for name in [*subdirs, *files]:
            path = Path(directory) / name
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                kind, content = "link", os.readlink(path)
            elif stat.S_ISDIR(st.st_mode):
                kind, content = "dir", ""
            else:
                kind, content = "file", hashlib.sha256(path.read_bytes()).hexdigest()
            tree[str(path.relative_to(root))] = Entry(kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid,
                                                      st.st_mtime_ns, content)
    return tree


def service_ids(root: Path) -> tuple[int, int]:
    """uid and gid of the service user in the root's /etc/passwd."""
    for line in (root / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == "edge-gateway":
            return int(fields[2]), int(fields[3])
    raise AssertionError("no edge-gateway user in passwd")


# --- the installed unit, for systemd-analyze and for running its ExecStart by hand -----------------
UNIT = Path("etc/systemd/system/edge-gateway.service")
HOST_UNIT_DIR = Path("/usr/lib/systemd/system")


def unit_settings(unit: Path) -> dict[str, list[str]]:
    """`Section.Key` -> every value it is given, in order (unit files repeat keys)."""
    settings: dict[str, list[str]] = {}
    section = ""
    for raw in unit.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        settings.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return settings


def stage_for_systemd(root: Path) -> Path:
    """What a real system adds around the installed unit: systemd's own units (so `verify --root`
    finds sysinit.target and friends) and the program the unit starts, here a wrapper around this
    checkout's gateway. Returns the wrapper's path inside the root."""
    units = root / "usr/lib/systemd/system"
    if not units.exists():
        shutil.copytree(HOST_UNIT_DIR, units, symlinks=True)
    exec_start = shlex.split(unit_settings(root / UNIT)["Service.ExecStart"][0])
    program = root / exec_start[0].lstrip("/")
    program.parent.mkdir(parents=True, exist_ok=True)
    program.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m gateway "$@"\n')
    program.chmod(0o755)
    return program
