"""Fault codes of the heater safety rules, their severity (as data) and the zone states."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["SEVERITY", "FaultCode", "LatchedFault", "Severity", "ZoneState"]


class FaultCode(enum.StrEnum):
    """Why heaters were turned off."""

    SENSOR_OPEN = "sensor_open"
    SENSOR_SHORT = "sensor_short"
    SENSOR_INVALID = "sensor_invalid"
    """The reading is not a finite number (NaN, inf)."""
    STALE = "stale"
    """No fresh temperature for the link's loss window (1000 ms or 5 telemetry periods by default)."""
    OVERTEMP = "overtemp"
    """Above the zone's configured maximum."""
    RUNAWAY = "runaway"
    """A holding zone stayed below setpoint - hysteresis for longer than the protection period."""
    HEATING_FAILED = "heating_failed"
    """A heating zone gained less than the watch increase within the watch period."""
    LINK_LOST = "link_lost"
    CONTROLLER_FAULT = "controller_fault"
    """The controller board reports a fault other than ``none`` (in ``TEL`` or a ``! FAULT`` event), or
    sent a ``! FAULT`` the host does not understand."""
    CONTROLLER_RESET = "controller_reset"
    """The controller board restarted (``! BOOT``) or was swapped for another: it forgot every output,
    so heating resumes only when a person sets it again after a reset."""
    ESTOP = "estop"


class Severity(enum.StrEnum):
    ZONE = "zone"
    """That zone's heater off (and the motor stopped)."""
    SEVERE = "severe"
    """Every heater and the motor off."""


SEVERITY: Mapping[FaultCode, Severity] = MappingProxyType(
    {
        FaultCode.SENSOR_OPEN: Severity.ZONE,
        FaultCode.SENSOR_SHORT: Severity.ZONE,
        FaultCode.SENSOR_INVALID: Severity.ZONE,
        FaultCode.STALE: Severity.ZONE,
        FaultCode.HEATING_FAILED: Severity.ZONE,
        FaultCode.OVERTEMP: Severity.SEVERE,
        FaultCode.RUNAWAY: Severity.SEVERE,
        FaultCode.LINK_LOST: Severity.SEVERE,
        FaultCode.CONTROLLER_FAULT: Severity.SEVERE,
        FaultCode.CONTROLLER_RESET: Severity.SEVERE,
        FaultCode.ESTOP: Severity.SEVERE,
    }
)


class ZoneState(enum.StrEnum):
    OFF = "off"
    HEATING = "heating"
    HOLDING = "holding"
    FAULT = "fault"


@dataclass(frozen=True, slots=True)
class LatchedFault:
    code: FaultCode
    zone: int | None
    """Zone concerned, ``None`` for a global fault."""
    at_s: float
    detail: str = ""

    @property
    def severity(self) -> Severity:
        return SEVERITY[self.code]
