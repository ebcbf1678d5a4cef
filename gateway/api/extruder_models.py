"""Request and response bodies of the extruder routes (``GET`` returns ``ExtruderState`` itself)."""

from __future__ import annotations

from pydantic import Field

from gateway.api.models import RequestBody, ResponseBody


class SetpointRequest(RequestBody):
    setpoint_c: float | None = Field(
        allow_inf_nan=False, description="Target temperature, degC; null turns the zone off. At most the zone's max_c."
    )


class SetpointSet(ResponseBody):
    zone: int
    setpoint_c: float | None


class MotorRequest(RequestBody):
    rpm: float = Field(ge=0, le=200, allow_inf_nan=False, description="Screw speed; > 0 only while every zone holds.")


class MotorSet(ResponseBody):
    rpm: float


class EstopDone(ResponseBody):
    fault: str = Field(description="The latched fault: estop.")


class FaultRef(ResponseBody):
    code: str
    zone: int | None


class ResetDone(ResponseBody):
    cleared: list[FaultRef] = Field(description="Faults cleared by this reset.")


class AutotuneRequest(RequestBody):
    target_c: float = Field(gt=0, le=450, allow_inf_nan=False, description="Temperature the relay oscillates around, degC.")


class AutotuneStarted(ResponseBody):
    zone: int
    target_c: float
    cycles_needed: int = Field(description="Oscillations measured before the gains are computed; follow progress "
                                           "in GET /api/v1/extruder (zones[].autotune).")
