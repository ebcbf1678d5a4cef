"""Every fixed name, path, mode and lifetime of device provisioning, named once with its unit.

Paths are as they are on the device; `Layout` places them under the provisioning root.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Final

# --- Accounts -------------------------------------------------------------------------------------
SERVICE_USER: Final = "edge-gateway"
"""The dedicated system user the service runs as (its primary group has the same name)."""

SERVICE_GROUPS: Final[tuple[str, ...]] = ("dialout", "gpio")
"""Supplementary groups: serial ports (dialout) and GPIO character devices (gpio)."""

SERVICE_SHELL: Final = "/usr/sbin/nologin"
SERVICE_COMMENT: Final = "edge-gateway service"
SYSTEM_ID_MIN: Final = 100
SYSTEM_ID_MAX: Final = 999
"""System uids/gids are taken from this range, highest free first (as useradd --system does)."""

# --- Device paths ---------------------------------------------------------------------------------
CONFIG_DIR: Final = PurePosixPath("/etc/edge-gateway")
STATE_DIR: Final = PurePosixPath("/var/lib/edge-gateway")
UNIT_NAME: Final = "edge-gateway.service"
UNIT_DIR: Final = PurePosixPath("/etc/systemd/system")
UNIT_WANTED_BY: Final = "multi-user.target"
UDEV_RULE: Final = PurePosixPath("/etc/udev/rules.d/90-edge-gateway.rules")
EXTRUDER_DEVICE_NAME: Final = "extruder"
"""The udev rule links the extruder controller board as /dev/<this>."""

# --- Modes ----------------------------------------------------------------------------------------
CONFIG_DIR_MODE: Final = 0o750
"""root:edge-gateway; the service reads its configuration and TLS material, never writes them."""
STATE_DIR_MODE: Final = 0o700
SECRET_FILE_MODE: Final = 0o600
PUBLIC_FILE_MODE: Final = 0o644
CONFIG_FILE_MODE: Final = 0o640
ACCOUNT_FILE_MODE: Final = 0o644
"""/etc/passwd and /etc/group."""
SHADOW_FILE_MODE: Final = 0o640
"""/etc/shadow and /etc/gshadow (root:shadow)."""
SHADOW_GROUP: Final = "shadow"
"""Group that owns /etc/shadow and /etc/gshadow on Debian."""
PROVISIONING_UMASK: Final = 0o077
"""Everything provisioning creates is private unless it is made public on purpose."""

# --- Identity and certificates --------------------------------------------------------------------
GATEWAY_ID_PREFIX: Final = "gw-"
GATEWAY_ID_RANDOM_BYTES: Final = 4
"""A generated gateway id is the prefix and this many random bytes in hex (gw-1a2b3c4d)."""
SERVER_CERT_VALID_DAYS: Final = 825
"""Lifetime of the self-signed local-API certificate (rotate with --rotate tls)."""
CERT_BACKDATE_S: Final = 300
"""Certificates start this long before now, so a client whose clock is a little behind accepts them."""
ADMIN_TOKEN_SUB: Final = "provisioning-admin"
"""Subject of the first admin token, printed once by the first provisioning run."""

# --- Rotation -------------------------------------------------------------------------------------
ROTATABLE: Final[tuple[str, ...]] = ("tls", "client", "signing-key", "secrets-key")
"""What `--rotate` may name."""

# --- Extruder controller (udev) -------------------------------------------------------------------
DEFAULT_EXTRUDER_USB_ID: Final = "2e8a:000a"
"""USB vendor:product of the extruder controller board (an RP2040 running the CDC-ACM firmware)."""
