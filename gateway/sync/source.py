"""What the push sync needs from the telemetry buffer: a small Protocol, satisfied by an adapter over the store.

Cursor semantics are the pull API's: rows are read oldest first after a cursor ``(epoch, seq)``; acking
a cursor lets every row up to it be deleted; acking a cursor older than the acked one is harmless
(pull and push may both ack); a new epoch means the buffer was re-created and older cursors are stale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from gateway.sync.batch import SyncRow


@dataclass(frozen=True, order=True)
class SourceCursor:
    epoch: str
    seq: int


class StaleCursorError(Exception):
    """The cursor belongs to an older store epoch (the buffer was re-created)."""


class SyncSource(Protocol):
    async def acked_cursor(self) -> SourceCursor:
        """The current epoch and the highest acked seq (0 when nothing was acked in this epoch)."""

    async def read_after(self, cursor: SourceCursor, limit: int) -> Sequence[SyncRow]:
        """Up to ``limit`` rows with seq > cursor.seq, oldest first. StaleCursorError for another epoch."""

    async def ack(self, cursor: SourceCursor) -> None:
        """Everything up to ``cursor`` may be deleted. Older than acked: no-op. StaleCursorError for another epoch."""

    async def backlog(self) -> int:
        """Rows not yet acked."""
