"""The simulated printer itself (pure): print progress, temperatures, reports, replies, injected faults."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any

from gateway.printers.const import VERIFICATION_FAILED_ERR_CODE, VERIFICATION_FAILED_REASON

TOTAL_LAYERS = 250
LAYER_TIME_S = 6.0
AMBIENT_C = 24.0
HEAT_RATE_C_PER_S = 4.0
NOISE_C = 0.3
# A realistic fault: "AMS1 slot 1 filament has run out" style HMS and a nozzle-clog print error.
DEFAULT_HMS = {"attr": 0x07000200, "code": 0x00020001}
DEFAULT_PRINT_ERROR = 0x0300400C
GCODE_TARGET = re.compile(r"^(M104|M140) S(\d{1,3})\n$")


@dataclass
class SimulatedPrinter:
    serial: str
    rng: random.Random = field(default_factory=random.Random)
    gcode_state: str = "RUNNING"
    elapsed_s: float = 0.0
    nozzle_c: float = 215.0
    nozzle_target_c: float = 220.0
    bed_c: float = 58.0
    bed_target_c: float = 60.0
    chamber_c: float = 31.0
    hms: list[dict[str, int]] = field(default_factory=list)
    print_error: int = 0
    chamber_light: str = "on"
    verification_required: bool = False
    _last: dict[str, Any] = field(default_factory=dict)

    @property
    def layer(self) -> int:
        return min(TOTAL_LAYERS, int(self.elapsed_s / LAYER_TIME_S))

    def _fields(self) -> dict[str, Any]:
        remaining_layers = TOTAL_LAYERS - self.layer
        return {
            "gcode_state": self.gcode_state,
            "mc_percent": int(100 * self.layer / TOTAL_LAYERS),
            "layer_num": self.layer,
            "total_layer_num": TOTAL_LAYERS,
            "mc_remaining_time": int(remaining_layers * LAYER_TIME_S / 60),
            "nozzle_temper": round(self.nozzle_c, 1),
            "nozzle_target_temper": round(self.nozzle_target_c),
            "bed_temper": round(self.bed_c, 1),
            "bed_target_temper": round(self.bed_target_c),
            "chamber_temper": round(self.chamber_c),
            "print_error": self.print_error,
            "hms": [dict(entry) for entry in self.hms],
            "lights_report": [{"node": "chamber_light", "mode": self.chamber_light}],
        }

    def full_report(self, sequence_id: str = "0") -> dict[str, Any]:
        body = {"command": "push_status", "msg": 0, "sequence_id": sequence_id, **self._fields(),
                "subtask_name": "bracket_v3", "wifi_signal": "-48dBm", "spd_lvl": 2,
                "ams": {"tray_now": "1", "ams": [{"id": "0", "humidity": "4", "temp": "24.5", "tray": [
                    {"id": "0", "tray_type": "PLA", "tray_color": "FFFFFFFF", "remain": 80},
                    {"id": "1", "tray_type": "PETG", "tray_color": "161616FF", "remain": 45},
                ]}]}}
        self._last = self._fields()
        return {"print": body}

    def delta_report(self, sequence_id: str) -> dict[str, Any]:
        """Only the fields that changed since the last report (the printers' `msg: 1` pushes)."""
        now = self._fields()
        changed = {k: v for k, v in now.items() if self._last.get(k) != v}
        self._last = now
        return {"print": {"command": "push_status", "msg": 1, "sequence_id": sequence_id, **changed}}

    def step(self, dt_s: float) -> None:
        if self.gcode_state == "RUNNING":
            self.elapsed_s += dt_s
            if self.layer >= TOTAL_LAYERS:
                self.gcode_state = "FINISH"
        self.nozzle_c = self._approach(self.nozzle_c, self.nozzle_target_c, dt_s)
        self.bed_c = self._approach(self.bed_c, self.bed_target_c, dt_s)

    def _approach(self, value: float, target: float, dt_s: float) -> float:
        goal = target if target > 0 else AMBIENT_C
        step = max(-HEAT_RATE_C_PER_S * dt_s, min(HEAT_RATE_C_PER_S * dt_s, goal - value))
        return value + step + self.rng.uniform(-NOISE_C, NOISE_C)

    def inject_hms(self, attr: int = DEFAULT_HMS["attr"], code: int = DEFAULT_HMS["code"]) -> None:
        self.hms.append({"attr": attr, "code": code})

    def clear_faults(self) -> None:
        self.hms.clear()
        self.print_error = 0

    def fail_print(self, print_error: int = DEFAULT_PRINT_ERROR) -> None:
        self.gcode_state = "FAILED"
        self.print_error = print_error

    def handle(self, request: Any) -> list[dict[str, Any]]:
        """The messages the printer publishes in answer to one request."""
        if not isinstance(request, dict):
            return []
        pushing = request.get("pushing")
        if isinstance(pushing, dict) and pushing.get("command") == "pushall":
            return [self.full_report(str(pushing.get("sequence_id", "0")))]
        for section in ("print", "system"):
            body = request.get(section)
            if isinstance(body, dict) and isinstance(body.get("command"), str):
                return [{section: self._answer(body)}]
        return []

    def _answer(self, body: dict[str, Any]) -> dict[str, Any]:
        command = body["command"]
        reply = {"command": command, "sequence_id": str(body.get("sequence_id", "")), "result": "success", "reason": ""}
        if self.verification_required:
            return {**reply, "result": "failed", "reason": VERIFICATION_FAILED_REASON,
                    "err_code": VERIFICATION_FAILED_ERR_CODE}
        if not self._apply(command, body):
            return {**reply, "result": "failed", "reason": f"cannot {command} now", "err_code": 1}
        return reply

    def _apply(self, command: str, body: dict[str, Any]) -> bool:
        if command == "pause" and self.gcode_state == "RUNNING":
            self.gcode_state = "PAUSE"
        elif command == "resume" and self.gcode_state == "PAUSE":
            self.gcode_state = "RUNNING"
        elif command == "stop" and self.gcode_state in ("RUNNING", "PAUSE"):
            self.gcode_state = "FAILED"  # a stopped print reports as failed, like the real firmware
        elif command == "ledctrl" and body.get("led_mode") in ("on", "off"):
            self.chamber_light = body["led_mode"]
        elif command == "gcode_line" and isinstance(body.get("param"), str):
            match = GCODE_TARGET.match(body["param"])
            if match is None:
                return False
            target = float(match.group(2))
            if match.group(1) == "M104":
                self.nozzle_target_c = target
            else:
                self.bed_target_c = target
        else:
            return False
        return True
