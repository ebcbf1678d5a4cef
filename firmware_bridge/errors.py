"""Typed errors of the codec and the link."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class FrameErrorKind(enum.Enum):
    """Why a received line was discarded."""

    BAD_CRC = "bad_crc"
    TOO_LONG = "too_long"
    BAD_CHAR = "bad_char"
    MISSING_STAR = "missing_star"
    BAD_SYNTAX = "bad_syntax"
    UNKNOWN_VERB = "unknown_verb"
    REPEATED_KEY = "repeated_key"


@dataclass(frozen=True, slots=True)
class FrameError:
    """A discarded line: the decoder yields these next to valid frames, it never raises."""

    kind: FrameErrorKind
    line: bytes
    """The offending line without its LF (truncated to the line limit for ``TOO_LONG``)."""
    detail: str = ""


class FrameEncodeError(ValueError):
    """A frame could not be encoded because a part breaks the grammar."""


class LinkError(Exception):
    """Base class of the host link's errors."""


class LinkDownError(LinkError):
    """A request was made while the link is not up."""


class LinkLostError(LinkError):
    """The link was lost while a request was outstanding (or by that request's retries)."""


class ControllerReset(LinkError):
    """The controller restarted (``! BOOT``) while a request was outstanding; it was not resent."""


class HandshakeRefused(LinkError):
    """The controller's ``HELLO`` reply is not acceptable (protocol version, zone count)."""


class RequestRejected(LinkError):
    """The controller answered a request with ``ERR``."""

    def __init__(self, verb: str, code: str, msg: str | None) -> None:
        super().__init__(f"{verb} rejected: code={code}" + (f" msg={msg}" if msg else ""))
        self.verb = verb
        self.code = code
        self.msg = msg


class ProtocolViolation(LinkError):
    """A valid frame whose content breaks the protocol (e.g. a ``TEL`` without ``n``)."""
