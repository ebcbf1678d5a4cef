"""Request and response bodies of the printer routes."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field, RootModel

from gateway.api.models import RequestBody, ResponseBody
from gateway.printers.commands import Heater, LightNode


class CommandResult(ResponseBody):
    sequence_id: str
    command: str
    status: str = Field(description="sent, ok, failed, verification_failed (firmware wants signed commands), timeout.")
    sent_at: float
    applied: dict[str, Any] = Field(default_factory=dict, description="Effective values, e.g. the clamped temperature.")
    result: str | None = Field(None, description="The printer's `result`.")
    err_code: int | None = Field(None, description="The printer's `err_code`.")
    reason: str | None = None
    answered_at: float | None = None


class ErrorView(ResponseBody):
    code: str = Field(description="As in `errors`.")
    kind: Literal["hms", "print_error"]
    module: str = Field(description="The printer module that raised it (from the code's structure).")
    severity: str | None = Field(description="fatal, serious, common or info (HMS only; from the code's structure).")
    url: str = Field(description="The vendor's page for this code.")
    text: str | None = Field(description="The vendor's words, when the site installed a catalogue (hms_catalogue).")


class LightView(ResponseBody):
    node: str = Field(description="chamber_light, work_light, ...")
    mode: str = Field(description="on, off or flashing, as the printer last reported.")


class PrinterView(ResponseBody):
    serial: str
    name: str
    online: bool
    link: str = Field(description="connecting, online, offline, auth_failed, tls_refused, not_configured.")
    link_message: str
    link_reason: str = Field(description="The link state in plain words: why a printer is down, or 'reporting'.")
    data_age_s: float | None = Field(description="Seconds since the last merged report; the values below are that "
                                                 "old (null before the first).")
    commands_available: bool = Field(description="Commands can be sent now (the printer is online).")
    gcode_state: str | None
    progress: float | None = Field(description="Percent done, 0..100.")
    layer: int | None
    total_layers: int | None
    remaining_min: int | None
    nozzle_c: float | None
    nozzle_target_c: float | None
    bed_c: float | None
    bed_target_c: float | None
    chamber_c: float | None
    errors: list[str] = Field(description="HMS codes as HMS_XXXX_XXXX_XXXX_XXXX, print_error as XXXX_XXXX.")
    error_details: list[ErrorView] = Field(description="Each of `errors` decoded.")
    lights: list[LightView] = Field(description="Each light the printer reports, with its state.")
    ams_trays: list[dict[str, Any]]
    updated_at: float | None = Field(description="Unix time of the last merged report.")
    reports: int = Field(description="Reports accepted since start.")
    dropped: dict[str, int] = Field(description="Reports or fields dropped, by reason (not_json, too_large, "
                                                "state_full, wrong_type, oversized, ...).")
    connects: int = Field(description="Connections made since start.")
    full_reports: int = Field(description="Full reports (answers to pushall) received since start.")
    commands: list[CommandResult] = Field(description="Recent commands, oldest first.")


class PrinterList(ResponseBody):
    printers: list[PrinterView]


class SimpleCommand(RequestBody):
    command: Literal["pause", "resume", "stop", "pushall"]


class LightCommand(RequestBody):
    command: Literal["light"]
    node: LightNode = Field(LightNode.CHAMBER, description="Which light.")
    on: bool


class SetTemperatureCommand(RequestBody):
    command: Literal["set_temperature"]
    heater: Heater
    celsius: float = Field(description="Target; clamped to the printer's configured limit, whole degrees.")


class PrinterCommandRequest(RootModel[Annotated[Union[SimpleCommand, LightCommand, SetTemperatureCommand],
                                                Field(discriminator="command")]]):
    """One command from the fixed set; no raw JSON or G-code is ever accepted."""


class CommandAccepted(ResponseBody):
    serial: str
    sequence_id: str
    command: str
    status: str
    applied: dict[str, Any]
