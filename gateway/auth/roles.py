"""Roles and what they may do, as data (the local API spec's "Roles" table).

Routes and printer commands name a `Permission`; a role holds a set of permissions. Tests iterate over
these tables, and the route table refuses to register a route that names no permission unless it is
explicitly public.
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType
from typing import Mapping


class Permission(StrEnum):
    STATUS_READ = "status:read"
    PRINTERS_READ = "printers:read"
    EXTRUDER_READ = "extruder:read"
    METRICS_READ = "metrics:read"
    PRINTER_COMMAND = "printers:command"  # pause, resume, light, pushall
    PRINTER_COMMAND_DANGEROUS = "printers:command-dangerous"  # stop, set_temperature
    EXTRUDER_CONTROL = "extruder:control"  # setpoints, motor, fault reset
    EXTRUDER_ESTOP = "extruder:estop"
    EXTRUDER_AUTOTUNE = "extruder:autotune"
    TOKENS_MANAGE = "tokens:manage"
    AUDIT_READ = "audit:read"
    TELEMETRY_READ = "telemetry:read"
    TELEMETRY_ACK = "telemetry:ack"


_VIEWER = frozenset(
    {Permission.STATUS_READ, Permission.PRINTERS_READ, Permission.EXTRUDER_READ, Permission.METRICS_READ,
     Permission.EXTRUDER_ESTOP}
)
_TECHNICIAN = _VIEWER | {Permission.PRINTER_COMMAND, Permission.EXTRUDER_CONTROL}
_ADMIN = _TECHNICIAN | {
    Permission.PRINTER_COMMAND_DANGEROUS,
    Permission.TOKENS_MANAGE,
    Permission.AUDIT_READ,
    Permission.EXTRUDER_AUTOTUNE,
}
_SYNC = frozenset({Permission.TELEMETRY_READ, Permission.TELEMETRY_ACK})

ROLE_PERMISSIONS: Mapping[str, frozenset[Permission]] = MappingProxyType(
    {"viewer": _VIEWER, "technician": frozenset(_TECHNICIAN), "admin": frozenset(_ADMIN), "sync": _SYNC}
)

# Printer commands of POST /api/v1/printers/{serial}/commands and the permission each needs.
PRINTER_COMMAND_PERMISSIONS: Mapping[str, Permission] = MappingProxyType(
    {
        "pause": Permission.PRINTER_COMMAND,
        "resume": Permission.PRINTER_COMMAND,
        "light": Permission.PRINTER_COMMAND,
        "pushall": Permission.PRINTER_COMMAND,
        "stop": Permission.PRINTER_COMMAND_DANGEROUS,
        "set_temperature": Permission.PRINTER_COMMAND_DANGEROUS,
    }
)


def role_allows(role: str, permission: Permission) -> bool:
    """Whether `role` holds `permission`. Unknown roles hold nothing."""
    return permission in ROLE_PERMISSIONS.get(role, frozenset())
