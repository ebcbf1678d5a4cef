"""Replies to requests, the handshake result and link state events."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from firmware_bridge.constants import MAX_ZONES, PROTO_VERSION
from firmware_bridge.errors import HandshakeRefused, ProtocolViolation
from firmware_bridge.values import ValueSyntaxError, parse_float, parse_int


class ErrCode(enum.StrEnum):
    """``code=`` of an ``ERR`` reply."""

    SYNTAX = "syntax"
    UNKNOWN = "unknown"
    RANGE = "range"
    ZONE = "zone"
    FAULTED = "faulted"
    ACTIVE = "active"
    BUSY = "busy"


class LinkState(enum.StrEnum):
    """State of the host link."""

    DISCONNECTED = "disconnected"
    """No port open (never connected, stopped, or waiting to reconnect)."""
    HANDSHAKING = "handshaking"
    """Port open, ``HELLO``/``TEL`` set-up in progress."""
    UP = "up"
    """Handshake done; requests may be made and telemetry flows."""
    LOST = "lost"
    """The link was lost; every zone counts as faulted until it is up again."""


@dataclass(frozen=True, slots=True)
class Reply:
    """The ``OK`` reply to a request (an ``ERR`` raises :class:`~firmware_bridge.errors.RequestRejected`)."""

    seq: int
    fields: dict[str, str]
    attempts: int
    """Sends it took (1 + retries)."""


@dataclass(frozen=True, slots=True)
class HelloInfo:
    """What the controller told in its ``HELLO`` reply."""

    proto: int
    fw: str
    board_id: str
    zones: int
    tmax_c: float
    hb_ms: int
    tel_ms: int


@dataclass(frozen=True, slots=True)
class LinkStateChange:
    """Event: the link changed state (``reason`` says why, e.g. ``telemetry timeout``)."""

    old: LinkState
    new: LinkState
    reason: str
    at: float


@dataclass(frozen=True, slots=True)
class ControllerReplaced:
    """Event: a ``HELLO`` reply carried another board ``id`` than the board this link knew (a swapped
    board). It knows nothing of what the old one was doing; the host treats it as a reset."""

    old_id: str
    new_id: str
    at: float


def parse_hello(fields: dict[str, str], expected_zones: int) -> HelloInfo:
    """Validate a ``HELLO`` reply; raise :class:`HandshakeRefused` if the host must not run with it."""
    try:
        info = HelloInfo(
            proto=parse_int(fields["proto"]),
            fw=fields["fw"],
            board_id=fields["id"],
            zones=parse_int(fields["zones"]),
            tmax_c=parse_float(fields["tmax"]),
            hb_ms=parse_int(fields["hb"]),
            tel_ms=parse_int(fields["tel"]),
        )
    except KeyError as exc:
        raise ProtocolViolation(f"HELLO reply without {exc.args[0]}") from None
    except ValueSyntaxError as exc:
        raise ProtocolViolation(f"HELLO reply: {exc}") from None
    if info.proto != PROTO_VERSION:
        raise HandshakeRefused(f"controller speaks proto {info.proto}, host speaks {PROTO_VERSION}")
    if not 1 <= info.zones <= MAX_ZONES:
        raise HandshakeRefused(f"controller reports {info.zones} zones")
    if info.zones < expected_zones:
        raise HandshakeRefused(f"controller has {info.zones} zones, {expected_zones} configured")
    if info.hb_ms <= 0:
        raise HandshakeRefused(f"controller heartbeat {info.hb_ms} ms")
    return info
