"""Evidence of what the host did after each boot of the board (for tests). Pure.

One :class:`BootRecord` per boot (power-on at start, ``reset``, a spontaneous ``reboot``, a ``swap``):
how many ``HELLO`` and ``OUT`` requests arrived since, and the first non-zero ``OUT`` requests with
whether a ``HELLO`` came before them. The spec says a host answers ``! BOOT`` with ``HELLO`` and
clears every setpoint, so a non-zero ``OUT`` soon after a boot (or before any ``HELLO``) is a host
that carried on as if nothing happened.
"""

from __future__ import annotations

import enum
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Final

from firmware_bridge.frame import Frame
from firmware_bridge.simulator.sim_constants import BOOT_LOG_MAX_BOOTS, BOOT_LOG_MAX_NONZERO_OUTS
from firmware_bridge.values import ValueSyntaxError, parse_int

_OUTPUT_KEY_RE: Final = re.compile(r"d[0-9]+")
MS_PER_S: Final = 1000.0


class BootReason(enum.StrEnum):
    """Why the board booted."""

    START = "start"
    """Power-on when the simulator started."""
    RESET = "reset"
    """The ``reset`` command (or SIGUSR1)."""
    REBOOT = "reboot"
    """A spontaneous reboot (``reboot=MS``), as a brown-out causes."""
    SWAP = "swap"
    """Another board took this one's place (``swap=ID``)."""


def asks_nonzero_output(frame: Frame) -> bool:
    """True if ``frame`` (an ``OUT``) asks a non-zero output for any zone."""
    for key, text in frame.fields.items():
        if _OUTPUT_KEY_RE.fullmatch(key):
            try:
                if parse_int(text) != 0:
                    return True
            except ValueSyntaxError:
                continue
    return False


@dataclass(slots=True)
class BootRecord:
    """What happened on the wire since one boot."""

    index: int
    reason: BootReason
    at_s: float
    """Simulator time of the boot (s since the simulator started)."""
    board_id: str
    hellos: int = 0
    out_total: int = 0
    out_nonzero: int = 0
    nonzero_out: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for the snapshot."""
        return {
            "index": self.index,
            "reason": self.reason.value,
            "at_ms": round(self.at_s * MS_PER_S, 3),
            "board_id": self.board_id,
            "hellos": self.hellos,
            "out_total": self.out_total,
            "out_nonzero": self.out_nonzero,
            "nonzero_out": [dict(item) for item in self.nonzero_out],
        }


class BootLog:
    """The last :data:`BOOT_LOG_MAX_BOOTS` boots, most recent last."""

    def __init__(self, started_at: float) -> None:
        self._started_at = started_at
        self._boots: deque[BootRecord] = deque(maxlen=BOOT_LOG_MAX_BOOTS)
        self._next_index = 0

    @property
    def current(self) -> BootRecord | None:
        """The record of the running boot (``None`` before the first)."""
        return self._boots[-1] if self._boots else None

    def boot(self, reason: BootReason, now: float, board_id: str) -> None:
        """The board booted at ``now`` (monotonic s)."""
        self._boots.append(BootRecord(self._next_index, reason, now - self._started_at, board_id))
        self._next_index += 1

    def request(self, frame: Frame, replies: list[Frame], now: float) -> None:
        """A valid frame arrived from the host at ``now`` and was answered with ``replies``."""
        record = self.current
        if record is None:
            return
        if frame.verb == "HELLO":
            record.hellos += 1
        elif frame.verb == "OUT":
            record.out_total += 1
            if asks_nonzero_output(frame):
                record.out_nonzero += 1
                if len(record.nonzero_out) < BOOT_LOG_MAX_NONZERO_OUTS:
                    record.nonzero_out.append(
                        {
                            "at_ms": round((now - self._started_at - record.at_s) * MS_PER_S, 3),
                            "hello_before": record.hellos > 0,
                            "seq": frame.seq,
                            "accepted": bool(replies) and replies[0].verb == "OK",
                            "fields": dict(frame.fields),
                        }
                    )

    def snapshot(self) -> list[dict[str, Any]]:
        """Every kept boot as plain data, most recent last."""
        return [record.as_dict() for record in self._boots]
