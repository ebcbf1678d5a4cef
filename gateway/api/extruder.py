"""Extruder routes: state, setpoints, motor, e-stop, fault reset, autotune (local API spec).

The handlers relay to the control process through :class:`ExtruderClient`; its refusals map onto HTTP
statuses here. Every state-changing route is audited, with the zone and values in the entry.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from gateway.api.extruder_models import (
    AutotuneRequest,
    AutotuneStarted,
    EstopDone,
    MotorRequest,
    MotorSet,
    ResetDone,
    SetpointRequest,
    SetpointSet,
)
from gateway.api.json import model_response
from gateway.auth.roles import Permission
from gateway.control.client import ControlUnavailable, ExtruderClient
from gateway.control.ipc import EmergencyStop, ReplyMessage, ResetFaults, SetMotor, SetSetpoint, StartAutotune
from gateway.control.state import ExtruderState
from gateway.http.errors import ApiError
from gateway.http.keys import AUDIT_NOTE, PRINCIPAL, AuditNote
from gateway.http.routes import Route
from gateway.http.validation import read_body

ZONE_PATTERN = re.compile(r"^[0-9]{1,2}$")
UNAVAILABLE_MESSAGE = ("the extruder control process is not running; the controller's heartbeat keeps every "
                       "heater off until it is back")

# Refusal codes of the control process -> HTTP status and API error code.
REFUSALS: dict[str, tuple[int, str]] = {
    "zone": (404, "not_found"),
    "range": (422, "validation_error"),
    "faulted": (409, "faulted"),
    "interlock": (409, "interlock"),
    "busy": (409, "busy"),
    "link": (409, "link_down"),
    "active": (409, "fault_active"),
    "refused": (403, "forbidden"),
}


def _zone(request: web.Request) -> int:
    text = request.match_info["zone"]
    if not ZONE_PATTERN.fullmatch(text):
        raise ApiError(422, "validation_error", "path.zone: not a zone number")
    return int(text)


def _note(request: web.Request, target: str, **details: Any) -> None:
    request[AUDIT_NOTE] = AuditNote(target=target, details=details)


class ExtruderApi:
    """Handlers bound to one client."""

    def __init__(self, client: ExtruderClient) -> None:
        self.client = client

    async def _call(self, command: Any, **fields: Any) -> dict[str, Any]:
        try:
            reply: ReplyMessage = await self.client.request(command, **fields)
        except ControlUnavailable as exc:
            raise ApiError(503, "unavailable", f"{exc}: {UNAVAILABLE_MESSAGE}") from None
        if reply.ok:
            return reply.data
        status, code = REFUSALS.get(reply.code or "", (500, "internal_error"))
        extra = {"refused": reply.data["refused"]} if "refused" in reply.data else None
        raise ApiError(status, code, reply.message or "refused by the control process", extra=extra)

    async def get(self, request: web.Request) -> web.Response:
        state = self.client.latest
        if state is None:
            raise ApiError(503, "unavailable", UNAVAILABLE_MESSAGE)
        return model_response(state)

    async def set_zone(self, request: web.Request) -> web.Response:
        zone = _zone(request)
        body = await read_body(request, SetpointRequest)
        _note(request, f"zone{zone}", setpoint_c=body.setpoint_c)
        data = await self._call(SetSetpoint, zone=zone, setpoint_c=body.setpoint_c)
        return model_response(SetpointSet(zone=data["zone"], setpoint_c=data["setpoint_c"]))

    async def set_motor(self, request: web.Request) -> web.Response:
        body = await read_body(request, MotorRequest)
        _note(request, "motor", rpm=body.rpm)
        data = await self._call(SetMotor, rpm=body.rpm)
        return model_response(MotorSet(rpm=data["rpm"]))

    async def estop(self, request: web.Request) -> web.Response:
        principal = request.get(PRINCIPAL)
        source = f"api ({principal.sub})" if principal else "api"
        _note(request, "extruder")
        data = await self._call(EmergencyStop, source=source[:64])
        return model_response(EstopDone(fault=data["fault"]))

    async def reset(self, request: web.Request) -> web.Response:
        _note(request, "extruder")
        try:
            data = await self._call(ResetFaults)
        except ApiError as exc:
            if "refused" in exc.extra:
                _note(request, "extruder", refused=exc.extra["refused"])
            raise
        _note(request, "extruder", cleared=data["cleared"])
        return model_response(ResetDone.model_validate({"cleared": data["cleared"]}))

    async def autotune(self, request: web.Request) -> web.Response:
        zone = _zone(request)
        body = await read_body(request, AutotuneRequest)
        _note(request, f"zone{zone}", target_c=body.target_c)
        data = await self._call(StartAutotune, zone=zone, target_c=body.target_c)
        return model_response(AutotuneStarted(zone=data["zone"], target_c=data["target_c"],
                                              cycles_needed=data["cycles_needed"]), status=202)


def extruder_routes(client: ExtruderClient) -> list[Route]:
    api = ExtruderApi(client)
    return [
        Route("GET", "/api/v1/extruder", "extruder.get", api.get,
              "Link, controller, zones (temp, setpoint, output, state, fault), motor, pressure, loop timing.",
              permission=Permission.EXTRUDER_READ, response=ExtruderState, errors=(503,)),
        Route("PUT", "/api/v1/extruder/zones/{zone}", "extruder.zone.set", api.set_zone,
              "Set a zone's setpoint (null = off); 422 above the zone's max, 409 while faulted.",
              permission=Permission.EXTRUDER_CONTROL, body=SetpointRequest, response=SetpointSet,
              errors=(404, 409, 422, 503), audited=True),
        Route("PUT", "/api/v1/extruder/motor", "extruder.motor.set", api.set_motor,
              "Set the screw speed; > 0 is refused (409) unless every zone holds at its setpoint.",
              permission=Permission.EXTRUDER_CONTROL, body=MotorRequest, response=MotorSet,
              errors=(409, 422, 503), audited=True),
        Route("POST", "/api/v1/extruder/estop", "extruder.estop", api.estop,
              "Emergency stop: heaters and motor off within one control period; latches until reset.",
              permission=Permission.EXTRUDER_ESTOP, response=EstopDone, errors=(503,), audited=True),
        Route("POST", "/api/v1/extruder/reset", "extruder.reset", api.reset,
              "Clear latched faults whose cause is gone (409 lists those that stay).",
              permission=Permission.EXTRUDER_CONTROL, response=ResetDone, errors=(409, 503), audited=True),
        Route("POST", "/api/v1/extruder/zones/{zone}/autotune", "extruder.zone.autotune", api.autotune,
              "Start a relay autotune to target_c; on success the gains are stored and applied.",
              permission=Permission.EXTRUDER_AUTOTUNE, body=AutotuneRequest, response=AutotuneStarted, status=202,
              errors=(404, 409, 422, 503), audited=True),
    ]
