"""Fault injection: the command language (CLI, control channel, tests) and link-level faults.

Commands (one per string)::

    sensor=ZONE:open|short|ok     heater=ZONE:dead|stuck|ok
    crc=RATE      corrupt this fraction of the frames the board sends (bad CRC at the host)
    crc_rx=RATE   treat this fraction of the frames the board receives as corrupted
    drop=RATE     drop this fraction of the frames the board sends
    silence=on|off  stop (resume) sending anything; the board still listens
    slow=MS       delay every reply by MS (0 = off)
    reset         reset the board (``! BOOT``)
    unplug        close the pty and remove the link; replug   create a new pty, re-point the link
    unplug=MS     unplug, then replug by itself after MS (a cable pulled and pushed back)
    clear         remove every injected fault
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass

from firmware_bridge.simulator.plant import HeaterCondition, SensorCondition


class FaultKind(enum.StrEnum):
    """Name of an injection command."""

    SENSOR = "sensor"
    HEATER = "heater"
    CRC = "crc"
    CRC_RX = "crc_rx"
    DROP = "drop"
    SILENCE = "silence"
    SLOW = "slow"
    RESET = "reset"
    UNPLUG = "unplug"
    REPLUG = "replug"
    CLEAR = "clear"


@dataclass(frozen=True, slots=True)
class FaultCommand:
    """A parsed injection command."""

    kind: FaultKind
    zone: int | None = None
    condition: SensorCondition | HeaterCondition | None = None
    rate: float | None = None
    """0..1 for ``crc``, ``crc_rx``, ``drop``."""
    on: bool | None = None
    """For ``silence``."""
    ms: int | None = None
    """For ``slow`` (reply delay) and ``unplug`` (replug after this long; ``None``: stay unplugged)."""


class FaultSyntaxError(ValueError):
    """An injection command that does not parse."""


def parse_fault(text: str) -> FaultCommand:
    """Parse one command such as ``sensor=0:open`` or ``crc=0.2``."""
    name, _, arg = text.strip().partition("=")
    try:
        kind = FaultKind(name)
    except ValueError:
        raise FaultSyntaxError(f"unknown fault {name!r}") from None
    try:
        if kind in (FaultKind.SENSOR, FaultKind.HEATER):
            zone_text, _, cond_text = arg.partition(":")
            cls = SensorCondition if kind is FaultKind.SENSOR else HeaterCondition
            return FaultCommand(kind, zone=int(zone_text), condition=cls(cond_text))
        if kind in (FaultKind.CRC, FaultKind.CRC_RX, FaultKind.DROP):
            rate = float(arg)
            if not 0.0 <= rate <= 1.0:
                raise FaultSyntaxError(f"{kind}: rate must be 0..1")
            return FaultCommand(kind, rate=rate)
        if kind is FaultKind.SILENCE:
            if arg not in ("on", "off", ""):
                raise FaultSyntaxError("silence=on|off")
            return FaultCommand(kind, on=arg != "off")
        if kind is FaultKind.SLOW or (kind is FaultKind.UNPLUG and arg):
            ms = int(arg)
            if ms < 0:
                raise FaultSyntaxError(f"{kind}=MS with MS >= 0")
            return FaultCommand(kind, ms=ms)
    except ValueError as exc:
        if isinstance(exc, FaultSyntaxError):
            raise
        raise FaultSyntaxError(f"bad argument for {kind}: {arg!r}") from None
    if arg:
        raise FaultSyntaxError(f"{kind} takes no argument")
    return FaultCommand(kind)


class LinkFaults:
    """Faults on the board's serial line. Pure apart from the seeded random generator."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self.crc_tx_rate = 0.0
        self.crc_rx_rate = 0.0
        self.drop_rate = 0.0
        self.silent = False
        self.slow_reply_ms = 0
        self.corrupted_tx = 0
        self.corrupted_rx = 0
        self.dropped_tx = 0
        self.silenced_tx = 0

    def clear(self) -> None:
        """Remove every link fault (counters are kept)."""
        self.crc_tx_rate = self.crc_rx_rate = self.drop_rate = 0.0
        self.silent = False
        self.slow_reply_ms = 0

    def outgoing(self, line: bytes) -> bytes | None:
        """What actually leaves the board for ``line``: itself, a corrupted copy, or nothing."""
        if self.silent:
            self.silenced_tx += 1
            return None
        if self.drop_rate and self._rng.random() < self.drop_rate:
            self.dropped_tx += 1
            return None
        if self.crc_tx_rate and self._rng.random() < self.crc_tx_rate:
            self.corrupted_tx += 1
            return corrupt_line(line, self._rng)
        return line

    def incoming_corrupted(self) -> bool:
        """Whether the next received frame is to be treated as corrupted on the wire."""
        if self.crc_rx_rate and self._rng.random() < self.crc_rx_rate:
            self.corrupted_rx += 1
            return True
        return False


def corrupt_line(line: bytes, rng: random.Random) -> bytes:
    """Change one letter or digit before the ``*`` so the CRC no longer matches (line stays printable)."""
    body_end = line.rfind(b"*")
    positions = [i for i in range(max(body_end, 0)) if chr(line[i]).isalnum()]
    if not positions:
        return line
    i = rng.choice(positions)
    c = chr(line[i])
    if c.isdigit():
        new = str((int(c) + 1) % 10)
    else:
        new = c.swapcase()
    return line[:i] + new.encode("ascii") + line[i + 1 :]
