"""Cursors of the pull API: ``(epoch, seq)`` as an opaque string, and the rules for accepting one.

Pure logic: no I/O. A cursor names the last item a client has seen. It is ``<epoch>.<seq>``: the
store's epoch (16 hex digits, new whenever the buffer is re-created) and a sequence number (0 means
"before the first sample"). Clients must treat it as opaque.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.telemetry.const import EPOCH_HEX_CHARS

SEQ_MAX = 2**63 - 1
_PATTERN = re.compile(rf"^([0-9a-f]{{{EPOCH_HEX_CHARS}}})\.(0|[1-9][0-9]{{0,18}})$")


class CursorError(Exception):
    """A cursor the store cannot accept; ``kind`` says why."""

    def __init__(self, kind: str, message: str, current_epoch: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind  # "malformed", "stale_epoch", "future"
        self.message = message
        self.current_epoch = current_epoch


@dataclass(frozen=True, slots=True)
class Cursor:
    epoch: str
    seq: int

    def encode(self) -> str:
        return f"{self.epoch}.{self.seq}"

    def __str__(self) -> str:
        return self.encode()


def is_epoch(text: str) -> bool:
    return len(text) == EPOCH_HEX_CHARS and all(c in "0123456789abcdef" for c in text)


def parse_cursor(text: str) -> Cursor:
    """The cursor in ``text``, or ``CursorError("malformed")``."""
    match = _PATTERN.fullmatch(text)
    if match is None:
        raise CursorError("malformed", "not a telemetry cursor (pass back a 'next' value unchanged)")
    seq = int(match.group(2))
    if seq > SEQ_MAX:
        raise CursorError("malformed", "not a telemetry cursor (sequence out of range)")
    return Cursor(match.group(1), seq)


def check_cursor(cursor: Cursor, *, epoch: str, last_seq: int) -> Cursor:
    """Accept ``cursor`` against a store at ``epoch`` whose newest committed sequence is ``last_seq``.

    A cursor from another epoch is stale (the buffer was re-created: the client must resync from the
    start); one beyond ``last_seq`` names data that was never handed out. Both raise ``CursorError``.
    """
    if cursor.epoch != epoch:
        raise CursorError("stale_epoch", f"cursor is from store epoch {cursor.epoch}; the current epoch is {epoch}",
                          current_epoch=epoch)
    if cursor.seq > last_seq:
        raise CursorError("future", f"cursor {cursor.encode()} is beyond the newest sample ({last_seq})",
                          current_epoch=epoch)
    return cursor


@dataclass(frozen=True, slots=True)
class AckDecision:
    """What an ack does: delete through ``delete_through`` (None: nothing, a replayed or old ack)."""

    delete_through: int | None
    acked_seq: int


def decide_ack(cursor: Cursor, *, epoch: str, last_seq: int, acked_seq: int) -> AckDecision:
    """An ack of ``cursor``: stale/future raise ``CursorError``; an ack at or below the acked cursor is harmless."""
    check_cursor(cursor, epoch=epoch, last_seq=last_seq)
    if cursor.seq <= acked_seq:
        return AckDecision(None, acked_seq)
    return AckDecision(cursor.seq, cursor.seq)


def start_seq(after: Cursor | None, *, acked_seq: int) -> int:
    """Where a pull starts: after the given cursor, or after the acked cursor when none is given."""
    return acked_seq if after is None else after.seq
