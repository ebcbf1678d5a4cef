"""Simulated extruder controller board speaking serial protocol v1 on a pty."""

from __future__ import annotations

from firmware_bridge.simulator.controller import Controller, ControllerConfig
from firmware_bridge.simulator.faults import FaultCommand, LinkFaults, parse_fault
from firmware_bridge.simulator.plant import ExtruderPlant, HeaterCondition, SensorCondition, ZoneParams
from firmware_bridge.simulator.runtime import Simulator, SimulatorConfig

__all__ = [
    "Controller",
    "ControllerConfig",
    "ExtruderPlant",
    "FaultCommand",
    "HeaterCondition",
    "LinkFaults",
    "SensorCondition",
    "Simulator",
    "SimulatorConfig",
    "ZoneParams",
    "parse_fault",
]
