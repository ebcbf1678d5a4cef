"""Printer routes: list, one printer, and commands (role tier per command, fixed templates, audited)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from aiohttp import web

from gateway.api.json import model_response
from gateway.api.printer_models import (
    CommandAccepted,
    CommandResult,
    ErrorView,
    LightCommand,
    LightView,
    PrinterCommandRequest,
    PrinterList,
    PrinterView,
    SetTemperatureCommand,
)
from gateway.auth.roles import PRINTER_COMMAND_PERMISSIONS, Permission, role_allows
from gateway.http.errors import ApiError
from gateway.http.keys import AUDIT_NOTE, PRINCIPAL, AuditNote
from gateway.http.routes import Route
from gateway.http.validation import read_body
from gateway.printers import commands, hms
from gateway.printers.commands import BuiltCommand, CommandName
from gateway.printers.config import PrinterConfig
from gateway.printers.manager import (
    PrinterEntry,
    PrinterManager,
    PrinterOffline,
    UnknownPrinter,
)
from gateway.printers.state import CommandRecord


def printer_view(entry: PrinterEntry, catalogue: Mapping[str, str]) -> PrinterView:
    state, reading = entry.state, entry.state.reading
    age = state.data_age_s
    decoded = [d for d in (hms.decode(code, catalogue) for code in reading.errors) if d is not None]
    return PrinterView(
        serial=entry.config.serial, name=entry.config.label, online=state.online, link=str(state.link),
        link_message=state.link_message, link_reason=state.reason,
        data_age_s=None if age is None else round(age, 1), commands_available=state.online and entry.driver is not None,
        gcode_state=reading.gcode_state, progress=reading.progress,
        layer=reading.layer, total_layers=reading.total_layers, remaining_min=reading.remaining_min,
        nozzle_c=reading.nozzle_c, nozzle_target_c=reading.nozzle_target_c, bed_c=reading.bed_c,
        bed_target_c=reading.bed_target_c, chamber_c=reading.chamber_c, errors=list(reading.errors),
        error_details=[ErrorView(**vars(d)) for d in decoded],  # type: ignore[arg-type]
        lights=[LightView(node=node, mode=mode) for node, mode in reading.lights],
        ams_trays=list(reading.ams_trays), updated_at=state.updated_at, reports=state.reports,
        dropped=dict(state.dropped), connects=state.connects, full_reports=state.full_reports,
        commands=[command_result(record) for record in state.commands],
    )


def printer_list(manager: PrinterManager) -> PrinterList:
    return PrinterList(printers=[printer_view(entry, manager.catalogue) for entry in manager.entries()])


def command_result(record: CommandRecord) -> CommandResult:
    return CommandResult(sequence_id=record.sequence_id, command=record.command, status=str(record.status),
                         sent_at=record.sent_at, applied=record.applied, result=record.result,
                         err_code=record.err_code, reason=record.reason, answered_at=record.answered_at)


def builder(body: PrinterCommandRequest) -> Callable[[str, PrinterConfig], BuiltCommand]:
    """The template for the requested command, waiting for its sequence id and the printer's limits."""
    request = body.root
    if isinstance(request, LightCommand):
        return lambda seq, printer: commands.light(seq, request.node, request.on)
    if isinstance(request, SetTemperatureCommand):
        return lambda seq, printer: commands.set_temperature(seq, request.heater, request.celsius, printer.limits)
    name = CommandName(request.command)
    if name is CommandName.PUSHALL:
        return lambda seq, printer: commands.pushall(seq)
    return lambda seq, printer: commands.print_control(name, seq)


class PrinterHandlers:
    def __init__(self, manager: PrinterManager) -> None:
        self._manager = manager

    def _entry(self, request: web.Request) -> PrinterEntry:
        serial = request.match_info["serial"]
        try:
            return self._manager.get(serial)
        except UnknownPrinter:
            raise ApiError(404, "not_found", f"no printer with serial {serial[:32]!r}") from None

    async def list_printers(self, request: web.Request) -> web.Response:
        return model_response(printer_list(self._manager))

    async def get_printer(self, request: web.Request) -> web.Response:
        return model_response(printer_view(self._entry(request), self._manager.catalogue))

    async def command(self, request: web.Request) -> web.Response:
        entry = self._entry(request)
        serial = entry.config.serial
        note = AuditNote(target=serial)
        request[AUDIT_NOTE] = note
        body = await read_body(request, PrinterCommandRequest)
        name = body.root.command
        note.details["command"] = name
        note.details["requested"] = body.root.model_dump(mode="json", exclude={"command"})  # kept when refused
        principal = request[PRINCIPAL]
        if not role_allows(principal.role, PRINTER_COMMAND_PERMISSIONS[name]):
            raise ApiError(403, "forbidden", f"role '{principal.role}' may not send '{name}' to a printer")
        try:
            record = await self._manager.send(serial, builder(body))
        except PrinterOffline as exc:
            raise ApiError(409, "printer_offline", str(exc)) from None
        except ValueError as exc:
            raise ApiError(422, "validation_error", f"body: {exc}") from None
        note.details.update(sequence_id=record.sequence_id, applied=record.applied)
        return model_response(CommandAccepted(serial=serial, sequence_id=record.sequence_id, command=name,
                                              status=str(record.status), applied=record.applied), status=202)


def printer_routes(manager: PrinterManager) -> list[Route]:
    handlers = PrinterHandlers(manager)
    return [
        Route("GET", "/api/v1/printers", "printers.list", handlers.list_printers,
              "Every printer with its merged state.", permission=Permission.PRINTERS_READ, response=PrinterList),
        Route("GET", "/api/v1/printers/{serial}", "printers.get", handlers.get_printer,
              "One printer's merged state, link status and recent commands.", permission=Permission.PRINTERS_READ,
              response=PrinterView, errors=(404,)),
        Route("POST", "/api/v1/printers/{serial}/commands", "printers.command", handlers.command,
              "Send a command from the fixed set; the role needed depends on the command (stop and "
              "set_temperature: admin).", permission=Permission.PRINTER_COMMAND, body=PrinterCommandRequest,
              response=CommandAccepted, status=202, errors=(404, 409, 422), audited=True),
    ]
