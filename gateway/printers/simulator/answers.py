"""What the simulated printer receives on `device/SERIAL/request` and how it answers (pure).

Facts from public notes, not from our gateway's client:

- A request is `{"SECTION": {"sequence_id": "...", "command": "...", ...}}`; one message may carry several
  sections (bambulabs_api mqtt_client.py sends pushing.pushall, info.get_version and upgrade.get_history in
  one message); extra top-level keys such as `"user_id"` are not sections (OpenBambuAPI mqtt.md,
  "print.print_speed"/"gcode_line" examples in justinh-rahb/bambu-moonraker-shim research notes).
- The reply to a command goes to `device/SERIAL/report` under the same section with the request's
  `sequence_id`, its `command`, `result` and `reason`, and all parameters of the original command
  (mqtt.md "Report structure"). Captured replies say `"reason": "success", "result": "success"`, e.g. a
  ledctrl reply echoing led_node/led_mode/led_on_time/led_off_time/loop_times/interval_time (a Rust client's
  decode test of a captured reply; the same pair in xtouch's captured print replies).
- `pushing.pushall` is not answered like a command: the printer pushes its full status (model.full_report)
  with its own sequence id; the client shell decides when (misbehaviours).
- `system.ledctrl`: led_node chamber_light|work_light, led_mode on|off|flashing (mqtt.md "system.ledctrl").
- `print.pause|resume|stop` (param ""), `print.print_speed` (param "1".."4", a string),
  `print.gcode_line` (raw G-code, several lines joined by newlines; the bambu-moonraker-shim research notes
  show "M140 S90 " plus a newline, a space before it) (mqtt.md; ha-bambulab pybambu/commands.py).
- `info.get_version` answers a `module` list of {name, hw_ver, sn, sw_ver} (mqtt.md "info.get_version").
- Newer firmware refuses unsigned commands with err_code 84033543 (0x05024007) "mqtt message verify failed"
  (OpenBambuAPI PR #61; coelacant1/Bambu-Lab-Cloud-API issue #4). PR #61 (hedged, one printer family)
  says only `print.*` needs the signature; we refuse print and system commands, as the existing gateway
  tests expect, and never pushing/info.
- A stopped (cancelled) print reports gcode_state FAILED (ha-bambulab issue #176, seen on X1; estampo
  PR #47: the printer sits in FAILED after a failed or cancelled print). Refusing pause/resume in the wrong
  state with err_code 1 is this simulator's own choice (no public note gives the printer's code).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from gateway.printers.const import VERIFICATION_FAILED_ERR_CODE, VERIFICATION_FAILED_REASON
from gateway.printers.simulator.model import Family, SimulatedPrinter

COMMAND_SECTIONS = ("print", "system")  # answered with result/reason
SPEED_LEVELS = {"1", "2", "3", "4"}
TARGET_GCODE = re.compile(r"^(M104|M140)\s+S(\d{1,3}(?:\.\d+)?)\b")
WRONG_STATE_ERR_CODE = 1
FIRMWARE_VERSIONS = {Family.X1: "01.08.02.00", Family.P1: "01.09.00.00"}  # versions named in public issues
SUCCESS = "success"
FAILED = "failed"


@dataclass(frozen=True)
class Request:
    section: str
    command: str
    body: dict[str, Any]

    @property
    def sequence_id(self) -> str | None:
        value = self.body.get("sequence_id")
        return None if value is None else str(value)


def parse_requests(payload: bytes | bytearray | str) -> list[Request]:
    """Every `{"section": {"command": ...}}` in one request message; [] when it is not JSON or has none."""
    try:
        document = json.loads(payload)
    except (ValueError, TypeError):
        return []
    if not isinstance(document, dict):
        return []
    return [Request(section, body["command"], body) for section, body in document.items()
            if isinstance(body, dict) and isinstance(body.get("command"), str)]


def is_pushall(request: Request) -> bool:
    return request.section == "pushing" and request.command == "pushall"


def answer(printer: SimulatedPrinter, request: Request) -> dict[str, Any] | None:
    """The reply the printer publishes for one request (None: no reply; pushall is the shell's business)."""
    if request.section == "info" and request.command == "get_version":
        return {"info": {"command": "get_version", "sequence_id": request.body.get("sequence_id", "0"),
                         "module": [{"name": "ota", "hw_ver": "", "sn": "",
                                     "sw_ver": FIRMWARE_VERSIONS[printer.family]},
                                    {"name": "mc", "hw_ver": "", "sn": printer.serial, "sw_ver": ""}]}}
    if request.section not in COMMAND_SECTIONS:
        return None
    body = request.body
    if printer.verification_required:
        return {request.section: {**body, "result": FAILED, "reason": VERIFICATION_FAILED_REASON,
                                  "err_code": VERIFICATION_FAILED_ERR_CODE}}
    refusal = apply(printer, request)
    if refusal is not None:
        return {request.section: {**body, "result": FAILED, "reason": refusal, "err_code": WRONG_STATE_ERR_CODE}}
    return {request.section: {**body, "result": SUCCESS, "reason": SUCCESS}}


def apply(printer: SimulatedPrinter, request: Request) -> str | None:
    """Carry out one command; None when done, else why not."""
    command, body = request.command, request.body
    if request.section == "system":
        return _ledctrl(printer, body) if command == "ledctrl" else f"unknown command {command}"
    if command == "pause":
        return _transition(printer, "RUNNING", "PAUSE", command)
    if command == "resume":
        return _transition(printer, "PAUSE", "RUNNING", command)
    if command == "stop":
        if printer.gcode_state not in ("RUNNING", "PAUSE"):
            return f"cannot stop in {printer.gcode_state}"
        printer.gcode_state = "FAILED"  # a stopped print reports as failed
        return None
    if command == "print_speed":
        param = body.get("param")
        if not isinstance(param, str) or param not in SPEED_LEVELS:
            return f"bad speed level {param!r}"
        printer.speed_level = int(param)
        return None
    if command == "gcode_line":
        return _gcode(printer, body.get("param"))
    return f"unknown command {command}"


def _transition(printer: SimulatedPrinter, before: str, after: str, command: str) -> str | None:
    if printer.gcode_state != before:
        return f"cannot {command} in {printer.gcode_state}"
    printer.gcode_state = after
    return None


def _ledctrl(printer: SimulatedPrinter, body: dict[str, Any]) -> str | None:
    node, mode = body.get("led_node"), body.get("led_mode")
    if not isinstance(node, str) or node not in printer.lights:
        return f"no light {node!r}"
    if mode not in ("on", "off", "flashing"):
        return f"bad led_mode {mode!r}"
    printer.lights[node] = str(mode)
    return None


def _gcode(printer: SimulatedPrinter, param: Any) -> str | None:
    """The printer runs any G-code; M104/M140 S<n> set the nozzle/bed targets the reports show."""
    if not isinstance(param, str) or not param.strip():
        return "no gcode"
    for line in param.split("\n"):
        match = TARGET_GCODE.match(line.strip())
        if match is None:
            continue
        target = float(match.group(2))
        if match.group(1) == "M104":
            printer.nozzle_target_c = target
        else:
            printer.bed_target_c = target
    return None
