"""The frame of protocol v1 and its encoder: ``SEQ SP VERB *(SP KEY "=" VALUE) "*" CRC LF``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from firmware_bridge.constants import MAX_LINE_BYTES, SEQ_MAX, SEQ_MIN, UNSOLICITED_SEQ
from firmware_bridge.crc import crc16_hex
from firmware_bridge.errors import FrameEncodeError
from firmware_bridge.values import format_value

VERB_RE: Final = re.compile(r"[A-Z]+")
KEY_RE: Final = re.compile(r"[a-z0-9_]+")
VALUE_RE: Final = re.compile(r"[A-Za-z0-9._+\-]{1,32}")

REQUEST_VERBS: Final = frozenset({"HELLO", "PING", "OUT", "MOTOR", "TEL", "ESTOP", "CLEAR", "STATUS"})
"""Verbs the controller accepts (host -> controller)."""
REPLY_VERBS: Final = frozenset({"OK", "ERR"})
EVENT_VERBS: Final = frozenset({"TEL", "FAULT", "BOOT"})
"""Verbs the controller sends on its own, with SEQ ``!``."""
HOST_RX_VERBS: Final = REPLY_VERBS | EVENT_VERBS
"""Verbs the host accepts (controller -> host)."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One protocol frame.

    ``seq`` is ``None`` for frames the controller sends on its own (written ``!``).
    ``fields`` keeps the wire order of the ``KEY=VALUE`` pairs.
    """

    seq: int | None
    verb: str
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def unsolicited(self) -> bool:
        """True for telemetry and events (SEQ ``!``)."""
        return self.seq is None

    def __str__(self) -> str:
        return frame_body(self)


_new_object: Final = object.__new__
_set_seq: Final = Frame.seq.__set__  # type: ignore[attr-defined]
_set_verb: Final = Frame.verb.__set__  # type: ignore[attr-defined]
_set_fields: Final = Frame.fields.__set__  # type: ignore[attr-defined]


def new_frame(seq: int | None, verb: str, fields: dict[str, str]) -> Frame:
    """``Frame(seq, verb, fields)`` for the decoder's hot path, which has validated every part.

    Equal to the constructor's result; it fills the slots directly instead of going through the
    frozen dataclass ``__init__`` (about a third of the cost of building a frame).
    """
    frame: Frame = _new_object(Frame)
    _set_seq(frame, seq)
    _set_verb(frame, verb)
    _set_fields(frame, fields)
    return frame


def next_seq(seq: int) -> int:
    """The SEQ after ``seq``: +1, wrapping 65535 -> 1."""
    return SEQ_MIN if seq >= SEQ_MAX else seq + 1


def make_frame(seq: int | None, verb: str, fields: Mapping[str, str | int | float] | None = None) -> Frame:
    """Build a :class:`Frame`, rendering numbers with :func:`format_value`."""
    rendered = {key: format_value(value) for key, value in (fields or {}).items()}
    return Frame(seq, verb, rendered)


def frame_body(frame: Frame) -> str:
    """The part of the line the CRC covers (everything before ``*``); validated."""
    if frame.seq is None:
        seq_text = UNSOLICITED_SEQ
    elif isinstance(frame.seq, bool) or not SEQ_MIN <= frame.seq <= SEQ_MAX:
        raise FrameEncodeError(f"SEQ out of range: {frame.seq!r}")
    else:
        seq_text = str(frame.seq)
    if not VERB_RE.fullmatch(frame.verb):
        raise FrameEncodeError(f"bad verb: {frame.verb!r}")
    parts = [seq_text, frame.verb]
    for key, value in frame.fields.items():
        if not KEY_RE.fullmatch(key):
            raise FrameEncodeError(f"bad key: {key!r}")
        if not isinstance(value, str) or not VALUE_RE.fullmatch(value):
            raise FrameEncodeError(f"bad value for {key}: {value!r}")
        parts.append(f"{key}={value}")
    return " ".join(parts)


def encode_frame(frame: Frame) -> bytes:
    """Encode ``frame`` as one wire line ending in LF; raise :class:`FrameEncodeError` if invalid."""
    body = frame_body(frame).encode("ascii")
    line = body + b"*" + crc16_hex(body).encode("ascii") + b"\n"
    if len(line) > MAX_LINE_BYTES:
        raise FrameEncodeError(f"frame is {len(line)} bytes, limit {MAX_LINE_BYTES}")
    return line
