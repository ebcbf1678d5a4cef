"""The systemd unit: installed to /etc/systemd/system and enabled (the wants symlink `systemctl enable` makes).

The unit is product code (`systemd/edge-gateway.service` in this repository): an upgrade replaces the
installed copy when it differs. systemctl is called only on the running system with systemd as init.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import provisioning
from provisioning import const
from provisioning.files import Changes, Owner, ensure_symlink, write_file
from provisioning.layout import Layout

UNIT_SOURCE = Path(provisioning.__file__).resolve().parent.parent / "systemd" / const.UNIT_NAME
SYSTEMD_RUNNING_MARKER = Path("/run/systemd/system")
"""Exists only when systemd is the running init (sd_booted(3))."""


class UnitError(Exception):
    """The unit file to install was not found."""


def ensure_unit(layout: Layout, changes: Changes, source: Path = UNIT_SOURCE) -> None:
    try:
        text = source.read_bytes()
    except FileNotFoundError:
        raise UnitError(f"{source}: unit file not found (run provisioning from a clone of edge-gateway)") from None
    written = write_file(layout.unit_file, text, const.PUBLIC_FILE_MODE, Owner(0, 0), changes, what="systemd unit")
    ensure_symlink(layout.unit_wants_link, str(const.UNIT_DIR / const.UNIT_NAME), changes)
    program = _exec_start_program(text.decode())
    if program is not None and not layout.place(program).exists():
        changes.note(f"{program} (the unit's ExecStart) is missing: install the gateway there (README)")
    if layout.is_live_system and written:
        _daemon_reload(changes)


def _daemon_reload(changes: Changes) -> None:
    systemctl = shutil.which("systemctl")
    if systemctl is None or not SYSTEMD_RUNNING_MARKER.is_dir():
        changes.note("systemd is not running here: the unit is picked up at the next boot")
        return
    result = subprocess.run([systemctl, "daemon-reload"], capture_output=True, text=True)
    if result.returncode != 0:
        changes.note(f"systemctl daemon-reload failed: {result.stderr.strip()}")


def _exec_start_program(unit_text: str) -> str | None:
    for line in unit_text.splitlines():
        if line.startswith("ExecStart="):
            words = line.removeprefix("ExecStart=").split()
            return words[0] if words else None
    return None
