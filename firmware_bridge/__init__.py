"""Host side of the extruder controller serial protocol v1, and a simulated controller.

Layers: :mod:`crc`, :mod:`frame` and :mod:`codec` (pure wire format), :mod:`telemetry` and
:mod:`messages` (typed content), :mod:`link_logic` (pure link rules), :mod:`transport` (pyserial
fd I/O) and :mod:`link` (:class:`SerialLink`, the supervised link the control loop uses).
"""

from __future__ import annotations

from firmware_bridge.counters import LinkCounters
from firmware_bridge.errors import (
    HandshakeRefused,
    LinkDownError,
    LinkError,
    LinkLostError,
    ProtocolViolation,
    RequestRejected,
)
from firmware_bridge.events import EventSubscription, LinkEvent
from firmware_bridge.link import SerialLink
from firmware_bridge.messages import ErrCode, HelloInfo, LinkState, LinkStateChange, Reply
from firmware_bridge.telemetry import BootEvent, Fault, FaultEvent, SensorFailure, Telemetry

__all__ = [
    "BootEvent",
    "ErrCode",
    "EventSubscription",
    "Fault",
    "FaultEvent",
    "HandshakeRefused",
    "HelloInfo",
    "LinkCounters",
    "LinkDownError",
    "LinkError",
    "LinkEvent",
    "LinkLostError",
    "LinkState",
    "LinkStateChange",
    "ProtocolViolation",
    "Reply",
    "RequestRejected",
    "SensorFailure",
    "SerialLink",
    "Telemetry",
]
