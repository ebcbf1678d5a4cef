"""The systemd unit: installed to /etc/systemd/system and enabled (the wants symlink `systemctl enable` makes).

The unit is product code (`systemd/edge-gateway.service` in this repository): an upgrade replaces the
installed copy when it differs. systemctl is called only on the running system with systemd as init.

One block of it is rendered from the site's answers: the network allow-list between
``ALLOW_LIST_BEGIN`` and ``ALLOW_LIST_END``. When the answers name the site's networks (LAN, printer
VLAN, upstream: all three, an empty list counting as named), the block becomes ``IPAddressDeny=any``
with an ``IPAddressAllow=`` for localhost and for each network; otherwise the unit is installed as it
is, its comment saying that the allow-list is left out, and provisioning notes it for the operator.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import provisioning
from provisioning import const
from provisioning.answers import NETWORK_ANSWERS, SiteAnswers, SiteNetworks
from provisioning.files import Changes, Owner, ensure_symlink, write_file
from provisioning.layout import Layout

UNIT_SOURCE = Path(provisioning.__file__).resolve().parent.parent / "systemd" / const.UNIT_NAME
SYSTEMD_RUNNING_MARKER = Path("/run/systemd/system")
"""Exists only when systemd is the running init (sd_booted(3))."""

ALLOW_LIST_BEGIN = "# Network allow-list: rendered between these two lines by `edge-gateway provision` (provisioning/unit.py)."
ALLOW_LIST_END = "# End of the network allow-list."
ALWAYS_ALLOWED = "localhost"
"""Loopback clients (plain HTTP is allowed there) and a local DNS resolver (systemd-resolved, 127.0.0.53)."""


class UnitError(Exception):
    """The unit file to install was not found."""


def ensure_unit(layout: Layout, changes: Changes, source: Path = UNIT_SOURCE, *,
                answers: SiteAnswers | None = None) -> None:
    try:
        text = source.read_bytes()
    except FileNotFoundError:
        raise UnitError(f"{source}: unit file not found (run provisioning from a clone of edge-gateway)") from None
    networks = answers.site_networks() if answers is not None else None
    if networks is not None:
        text = render_allow_list(text.decode(), networks, source).encode()
    else:
        missing = answers.missing_networks() if answers is not None else list(NETWORK_ANSWERS)
        changes.note(f"the unit's IP allow-list (IPAddressDeny=any) is left out: the answers do not name "
                     f"{', '.join(missing)}; the service may reach any address")
    written = write_file(layout.unit_file, text, const.PUBLIC_FILE_MODE, Owner(0, 0), changes, what="systemd unit")
    ensure_symlink(layout.unit_wants_link, str(const.UNIT_DIR / const.UNIT_NAME), changes)
    program = _exec_start_program(text.decode())
    if program is not None and not layout.place(program).exists():
        changes.note(f"{program} (the unit's ExecStart) is missing: install the gateway there (README)")
    if layout.is_live_system and written:
        _daemon_reload(changes)


def render_allow_list(unit_text: str, networks: SiteNetworks, source: Path = UNIT_SOURCE) -> str:
    """The unit with its allow-list block rendered for `networks` (see the module docstring)."""
    lines = unit_text.split("\n")
    try:
        begin = lines.index(ALLOW_LIST_BEGIN)
        end = lines.index(ALLOW_LIST_END, begin)
    except ValueError:
        raise UnitError(f"{source}: the network allow-list block is missing; cannot render it") from None
    described = "; ".join(
        f"{name} {', '.join(values) if values else '(none)'}"
        for name, values in (("LAN", networks.lan), ("printer VLAN", networks.printer_vlan),
                             ("upstream", networks.upstream))
    )
    allowed = list(dict.fromkeys((ALWAYS_ALLOWED, *networks.lan, *networks.printer_vlan, *networks.upstream)))
    block = [
        ALLOW_LIST_BEGIN,
        f"# From the provisioning answers: {described}.",
        "# localhost stays allowed: loopback clients and a local DNS resolver (127.0.0.53).",
        "IPAddressDeny=any",
        *(f"IPAddressAllow={value}" for value in allowed),
    ]
    return "\n".join([*lines[:begin], *block, *lines[end:]])


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
