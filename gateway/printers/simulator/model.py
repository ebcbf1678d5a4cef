"""The simulated printer itself (pure): its job, temperatures, lights, faults and the reports it pushes.

Every behaviour comes from public notes about real printers, never from our gateway's client:

- A report is `{"print": {"command": "push_status", ...}}` on `device/SERIAL/report` (OpenBambuAPI,
  Doridian/OpenBambuAPI mqtt.md, "print.push_status").
- X1 series push the full object every time; P1 (and A1) push only the values changed since the previous
  report and the full object only when asked with `pushing.pushall` (mqtt.md "pushing.pushall", "X1 Series",
  "P1 Series"; OpenBambuAPI issue #7; ha-bambulab PR #1178: A1/P1 payloads hold only the changes).
  A P1 with nothing new sends nothing (Aetrius/Bambulabs-Exporter PR #22: P1/P1S report mostly on change).
- A delta carries `msg: 1`, a full report `msg: 0` (P1S captures: Rdiger-36/bambulab-ams-spoolman-
  filamentstatus README "Debug-Printers CLI", THE-SIMPLE-MARK/bambu-node issue #1); ha-bambulab's
  pybambu/bambu_client.py takes a `push_status` whose `msg` is 0 (or absent) as the full report. Our X1
  pushes say `msg: 0` since each is the full object.
- A push's `sequence_id` is the printer's OWN counter, a decimal string, one more per push, the full report
  answering a pushall included: the README capture shows deltas "40941", "40942", then the pushall's full
  report "40943"; OpenBambuAPI's full-report sample carries "2021" whatever the request said. Captured
  counters sit in the thousands (1151, 2021, 3582, 30966, 40943), hence `SEQUENCE_START_RANGE`.
- Field names and shapes: gcode_state, mc_percent, layer_num, total_layer_num, mc_remaining_time (minutes),
  nozzle_temper, nozzle_target_temper, bed_temper, bed_target_temper, chamber_temper, hms [{attr, code}],
  print_error, spd_lvl, wifi_signal ("-45dBm"), lights_report [{node, mode}], ams {ams: [{id, humidity,
  temp, tray: [...]}], tray_now} (mqtt.md pushall report; ha-bambulab tests/pybambu/H2D.json).
- Lights: `chamber_light` and `work_light`, modes on/off/flashing (mqtt.md "system.ledctrl"; the X1 sample
  reports chamber "on", work "flashing"). Real P1S captures list only chamber_light: pass
  `light_nodes=("chamber_light",)` for that.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

TOTAL_LAYERS = 250
LAYER_TIME_S = 6.0
AMBIENT_C = 24.0
HEAT_RATE_C_PER_S = 4.0
NOISE_C = 0.3
WIFI_DBM_RANGE = (-52, -44)  # the signal strength the printer reports wanders in this range, dBm
WIFI_CHANGE_PROBABILITY = 0.2  # per step
SEQUENCE_START_RANGE = (1_000, 50_000)  # the printer's own push counter starts somewhere in here
SECONDS_PER_MINUTE = 60
# A realistic fault: an AMS-style HMS entry, and 0300_400C, the print error Bambu Studio showed for a
# cancelled print (ha-bambulab issue #176).
DEFAULT_HMS = {"attr": 0x07000200, "code": 0x00020001}
DEFAULT_PRINT_ERROR = 0x0300400C
LIGHT_NODES = ("chamber_light", "work_light")
INITIAL_LIGHT_MODES = {"chamber_light": "on", "work_light": "flashing"}  # as in OpenBambuAPI's X1 sample
LIGHT_MODES = ("on", "off", "flashing")
FULL_REPORT_MSG = 0
DELTA_REPORT_MSG = 1


class Family(str, Enum):
    """How a printer pushes its status."""

    X1 = "x1"  # the full object with every push
    P1 = "p1"  # P1/A1: only what changed; the full object only when asked (pushall)


@dataclass
class SimulatedPrinter:
    serial: str
    rng: random.Random | None = None  # None: seeded from the serial, so every run is the same
    family: Family = Family.P1
    light_nodes: tuple[str, ...] = LIGHT_NODES
    gcode_state: str = "RUNNING"
    elapsed_s: float = 0.0
    nozzle_c: float = 215.0
    nozzle_target_c: float = 220.0
    bed_c: float = 58.0
    bed_target_c: float = 60.0
    chamber_c: float = 31.0
    speed_level: int = 2  # spd_lvl: 1 silent, 2 standard, 3 sport, 4 ludicrous (mqtt.md "print.print_speed")
    wifi_dbm: int = -48
    hms: list[dict[str, int]] = field(default_factory=list)
    print_error: int = 0
    lights: dict[str, str] = field(default_factory=dict)
    verification_required: bool = False
    _random: random.Random = field(init=False, repr=False)
    _sequence: int = field(init=False, repr=False)
    _last: dict[str, Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._random = self.rng if self.rng is not None else random.Random(self.serial)
        self.family = Family(self.family)
        self._sequence = self._random.randint(*SEQUENCE_START_RANGE)
        for node in self.light_nodes:
            self.lights.setdefault(node, INITIAL_LIGHT_MODES.get(node, "off"))
        self._last = self._fields()  # as if it had been reporting before anyone listened

    # -- state -------------------------------------------------------------------------------------------

    @property
    def layer(self) -> int:
        return min(TOTAL_LAYERS, int(self.elapsed_s / LAYER_TIME_S))

    @property
    def chamber_light(self) -> str:
        return self.lights.get("chamber_light", "off")

    @chamber_light.setter
    def chamber_light(self, mode: str) -> None:
        self.lights["chamber_light"] = mode

    @property
    def last_sequence_id(self) -> str:
        """The sequence id of the printer's latest push."""
        return str(self._sequence)

    def next_sequence_id(self) -> str:
        self._sequence += 1
        return str(self._sequence)

    def step(self, dt_s: float) -> None:
        if self.gcode_state == "RUNNING":
            self.elapsed_s += dt_s
            if self.layer >= TOTAL_LAYERS:
                self.gcode_state = "FINISH"
        self.nozzle_c = self._approach(self.nozzle_c, self.nozzle_target_c, dt_s)
        self.bed_c = self._approach(self.bed_c, self.bed_target_c, dt_s)
        if self._random.random() < WIFI_CHANGE_PROBABILITY:
            self.wifi_dbm = self._random.randint(*WIFI_DBM_RANGE)

    def _approach(self, value: float, target: float, dt_s: float) -> float:
        goal = target if target > 0 else AMBIENT_C
        step = max(-HEAT_RATE_C_PER_S * dt_s, min(HEAT_RATE_C_PER_S * dt_s, goal - value))
        return value + step + self._random.uniform(-NOISE_C, NOISE_C)

    def inject_hms(self, attr: int = DEFAULT_HMS["attr"], code: int = DEFAULT_HMS["code"]) -> None:
        self.hms.append({"attr": attr, "code": code})

    def clear_faults(self) -> None:
        self.hms.clear()
        self.print_error = 0

    def fail_print(self, print_error: int = DEFAULT_PRINT_ERROR) -> None:
        self.gcode_state = "FAILED"
        self.print_error = print_error

    # -- reports -----------------------------------------------------------------------------------------

    def _fields(self) -> dict[str, Any]:
        """The values that change while printing (a P1 delta is a subset of these)."""
        remaining_layers = TOTAL_LAYERS - self.layer
        return {
            "gcode_state": self.gcode_state,
            "mc_percent": int(100 * self.layer / TOTAL_LAYERS),
            "layer_num": self.layer,
            "total_layer_num": TOTAL_LAYERS,
            "mc_remaining_time": int(remaining_layers * LAYER_TIME_S / SECONDS_PER_MINUTE),
            "nozzle_temper": round(self.nozzle_c, 1),
            "nozzle_target_temper": round(self.nozzle_target_c),
            "bed_temper": round(self.bed_c, 1),
            "bed_target_temper": round(self.bed_target_c),
            "chamber_temper": round(self.chamber_c),
            "print_error": self.print_error,
            "hms": [dict(entry) for entry in self.hms],
            "spd_lvl": self.speed_level,
            "wifi_signal": f"{self.wifi_dbm}dBm",
            "lights_report": [{"node": node, "mode": mode} for node, mode in self.lights.items()],
        }

    def full_report(self) -> dict[str, Any]:
        """The full object (`msg: 0`) with the printer's next sequence id: a pushall's answer, an X1's push."""
        fields = self._fields()
        body = {**fields, "subtask_name": "bracket_v3",
                "ams": {"tray_now": "1", "ams": [{"id": "0", "humidity": "4", "temp": "24.5", "tray": [
                    {"id": "0", "tray_type": "PLA", "tray_color": "FFFFFFFF", "remain": 80},
                    {"id": "1", "tray_type": "PETG", "tray_color": "161616FF", "remain": 45},
                ]}]},
                "command": "push_status", "msg": FULL_REPORT_MSG, "sequence_id": self.next_sequence_id()}
        self._last = fields
        return {"print": body}

    def delta_report(self) -> dict[str, Any] | None:
        """Only the values that changed since the last push (`msg: 1`); None when nothing changed."""
        now = self._fields()
        changed = {key: value for key, value in now.items() if self._last.get(key) != value}
        if not changed:
            return None
        self._last = now
        return {"print": {**changed, "command": "push_status", "msg": DELTA_REPORT_MSG,
                          "sequence_id": self.next_sequence_id()}}

    def periodic_report(self) -> dict[str, Any] | None:
        """What the printer pushes on its own: the full object (X1) or the changes (P1/A1)."""
        return self.full_report() if self.family is Family.X1 else self.delta_report()
