"""Request handling of the simulated controller: validation, ``OK``/``ERR`` replies. Pure."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from firmware_bridge.constants import (
    MOTOR_RPM_MAX,
    OUTPUT_MAX_PERMILLE,
    PROTO_VERSION,
    TEL_PERIOD_MAX_MS,
    TEL_PERIOD_MIN_MS,
)
from firmware_bridge.frame import Frame
from firmware_bridge.messages import ErrCode
from firmware_bridge.simulator.controller import Controller
from firmware_bridge.telemetry import Fault
from firmware_bridge.values import ValueSyntaxError, format_value, parse_float, parse_int

_OUTPUT_KEY_RE: Final = re.compile(r"d([0-9]+)")


class Rejected(Exception):
    """A request the board cannot serve: answered ``ERR code=...``."""

    def __init__(self, code: ErrCode, msg: str | None = None) -> None:
        super().__init__(code.value)
        self.code = code
        self.msg = msg


def _only(frame: Frame, *allowed: str) -> None:
    for key in frame.fields:
        if key not in allowed:
            raise Rejected(ErrCode.UNKNOWN, key[:32])
    for key in allowed:
        if key not in frame.fields:
            raise Rejected(ErrCode.SYNTAX, f"missing-{key}")


def _int(text: str) -> int:
    try:
        return parse_int(text)
    except ValueSyntaxError:
        raise Rejected(ErrCode.SYNTAX, "not-an-integer") from None


def _float(text: str) -> float:
    try:
        return parse_float(text)
    except ValueSyntaxError:
        raise Rejected(ErrCode.SYNTAX, "not-a-number") from None


def _hello(c: Controller, frame: Frame, now: float) -> tuple[dict[str, str], list[Frame]]:
    _only(frame, "proto")
    if _int(frame.fields["proto"]) != PROTO_VERSION:
        raise Rejected(ErrCode.RANGE, "proto")
    c.counters.hellos += 1
    cfg = c.config
    tmax = int(cfg.tmax_c) if cfg.tmax_c.is_integer() else cfg.tmax_c
    fields = {
        "proto": str(PROTO_VERSION),
        "fw": cfg.fw,
        "id": cfg.board_id,
        "zones": str(cfg.zones),
        "tmax": format_value(tmax),
        "hb": str(cfg.hb_ms),
        "tel": str(c.tel_ms),
    }
    return fields, []


def _ping(c: Controller, frame: Frame, now: float) -> tuple[dict[str, str], list[Frame]]:
    _only(frame)
    return {"up": str(c.uptime_ms(now))}, []


def _out(c: Controller, frame: Frame, now: float) -> tuple[dict[str, str], list[Frame]]:
    if not frame.fields:
        raise Rejected(ErrCode.SYNTAX, "no-outputs")
    outputs: dict[int, int] = {}
    for key, text in frame.fields.items():
        m = _OUTPUT_KEY_RE.fullmatch(key)
        if m is None:
            raise Rejected(ErrCode.UNKNOWN, key[:32])
        value = _int(text)
        zone = int(m[1])
        if zone >= c.config.zones:
            raise Rejected(ErrCode.ZONE, key[:32])
        if not 0 <= value <= OUTPUT_MAX_PERMILLE:
            raise Rejected(ErrCode.RANGE, key[:32])
        outputs[zone] = value
    if c.faults and any(outputs.values()):
        raise Rejected(ErrCode.FAULTED, c.fault.value)
    c.set_outputs(outputs)
    return {}, []


def _motor(c: Controller, frame: Frame, now: float) -> tuple[dict[str, str], list[Frame]]:
    _only(frame, "rpm")
    rpm = _float(frame.fields["rpm"])
    if not 0.0 <= rpm <= MOTOR_RPM_MAX:
        raise Rejected(ErrCode.RANGE, "rpm")
    if c.faults and rpm != 0.0:
        raise Rejected(ErrCode.FAULTED, c.fault.value)
    c.set_motor(rpm)
    return {}, []


def _tel(c: Controller, frame: Frame, now: float) -> tuple[dict[str, str], list[Frame]]:
    _only(frame, "ms")
    period = _int(frame.fields["ms"])
    if period != 0 and not TEL_PERIOD_MIN_MS <= period <= TEL_PERIOD_MAX_MS:
        raise Rejected(ErrCode.RANGE, "ms")
    c.set_telemetry(period, now)
    return {}, []


def _estop(c: Controller, frame: Frame, now: float) -> tuple[dict[str, str], list[Frame]]:
    _only(frame)
    return {}, c.latch(Fault.ESTOP, None, now)


def _clear(c: Controller, frame: Frame, now: float) -> tuple[dict[str, str], list[Frame]]:
    _only(frame)
    if not c.clear():
        raise Rejected(ErrCode.ACTIVE, c.persisting_faults()[0].value)
    return {}, []


def _status(c: Controller, frame: Frame, now: float) -> tuple[dict[str, str], list[Frame]]:
    _only(frame)
    fault = c.fault
    zone = c.faults.get(fault) if fault is not Fault.NONE else None
    return {"fault": fault.value, "zone": "-" if zone is None else str(zone), "up": str(c.uptime_ms(now))}, []


Handler = Callable[[Controller, Frame, float], tuple[dict[str, str], list[Frame]]]

HANDLERS: Final[dict[str, Handler]] = {
    "HELLO": _hello,
    "PING": _ping,
    "OUT": _out,
    "MOTOR": _motor,
    "TEL": _tel,
    "ESTOP": _estop,
    "CLEAR": _clear,
    "STATUS": _status,
}
"""One handler per request verb; the decoder already discarded every other verb."""


def handle_request(c: Controller, frame: Frame, now: float) -> list[Frame]:
    """Serve one valid request frame: the reply first, then any event it caused."""
    c.frame_received(now)
    if frame.seq is None:
        return []  # a request must carry a SEQ; nothing to answer to
    handler = HANDLERS[frame.verb]
    try:
        fields, events = handler(c, frame, now)
    except Rejected as exc:
        c.counters.replies_err[exc.code.value] = c.counters.replies_err.get(exc.code.value, 0) + 1
        err = {"code": exc.code.value}
        if exc.msg:
            err["msg"] = exc.msg
        return [Frame(frame.seq, "ERR", err)]
    c.counters.replies_ok += 1
    return [Frame(frame.seq, "OK", fields), *events]
