"""The board's serial line: injected link faults and a noisy line's burst corruption. Pure apart
from the seeded random generators.

A noisy line (a motor drive switching next to the cable, a bad ground) does not hit frames
independently: it corrupts several in a row. :class:`BurstModel` decides which frames are hit, a
two-state process whose bursts have a geometric length (mean ``MEAN``, capped at ``MAX`` frames) and
whose long-run share of hit frames is ``RATE``. :func:`damage_line` decides how a frame is hit.
"""

from __future__ import annotations

import enum
import random

from firmware_bridge.codec import parse_line
from firmware_bridge.frame import EVENT_VERBS, REPLY_VERBS, REQUEST_VERBS, Frame
from firmware_bridge.simulator.sim_constants import (
    BURST_DEFAULT_MAX_FRAMES,
    BURST_DEFAULT_MEAN_FRAMES,
    DAMAGE_MAX_ATTEMPTS,
    DAMAGE_WEIGHT_DROP_BYTE,
    DAMAGE_WEIGHT_FLIP,
    DAMAGE_WEIGHT_GARBAGE,
    DAMAGE_WEIGHT_LOST_LF,
    FLIP_EXTRA_BYTE_P,
    FLIP_MAX_BYTES,
    GARBAGE_MAX_BYTES,
)

_ANY_VERB = REQUEST_VERBS | REPLY_VERBS | EVENT_VERBS
_LF = 0x0A
_PRINTABLE_FIRST, _PRINTABLE_LAST = 0x20, 0x7E
_BITS_PER_BYTE = 8


class Damage(enum.StrEnum):
    """How a noisy line hit one frame."""

    FLIP = "flip"
    """Bits flipped in one to a few bytes (the CRC no longer matches, or a byte is not printable)."""
    DROP_BYTE = "drop_byte"
    """One byte lost."""
    GARBAGE = "garbage"
    """A few printable garbage bytes inserted."""
    LOST_LF = "lost_lf"
    """The LF lost: the line runs into the next one, and both are lost at the receiver."""


DAMAGE_WEIGHTS: dict[Damage, float] = {
    Damage.FLIP: DAMAGE_WEIGHT_FLIP,
    Damage.DROP_BYTE: DAMAGE_WEIGHT_DROP_BYTE,
    Damage.GARBAGE: DAMAGE_WEIGHT_GARBAGE,
    Damage.LOST_LF: DAMAGE_WEIGHT_LOST_LF,
}


def expected_burst_frames(mean: float, max_frames: int) -> float:
    """Mean of ``min(L, max_frames)`` for ``L`` geometric on 1, 2, ... with mean ``mean``."""
    q = 1.0 / mean
    return (1.0 - (1.0 - q) ** max_frames) / q


class BurstModel:
    """Which frames a noisy line corrupts: bursts of geometric length separated by clean runs.

    Between bursts at least one frame is clean, so a run of corrupted frames never exceeds ``MAX``,
    which allows ``RATE`` up to ``E/(E+1)`` (``E`` the mean capped burst length, about 0.74 with the
    defaults). Above that, bursts may follow each other directly so the long-run share is still
    ``RATE`` (runs then may exceed ``MAX``); ``RATE=1`` corrupts every frame.
    """

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self.rate = 0.0
        self.mean = BURST_DEFAULT_MEAN_FRAMES
        self.max_frames = BURST_DEFAULT_MAX_FRAMES
        self._start_p = 0.0
        self._gap_forced = True
        self._left = 0
        """Frames still to corrupt in the current burst."""
        self._clean_after = False
        """The next frame is clean (a burst just ended)."""
        self.bursts = 0

    def configure(self, rate: float, mean: float, max_frames: int) -> None:
        """Set the long-run share, mean burst length and longest burst (0 turns it off)."""
        self.rate, self.mean, self.max_frames = rate, mean, max_frames
        self._left, self._clean_after = 0, False
        if not 0.0 < rate < 1.0:
            self._start_p = 0.0
            return
        e = expected_burst_frames(mean, max_frames)
        p = rate / (e * (1.0 - rate))
        self._gap_forced = p <= 1.0
        self._start_p = p if self._gap_forced else rate / (rate + e * (1.0 - rate))

    def next_corrupted(self) -> bool:
        """Whether the next frame on the line is corrupted."""
        if self.rate >= 1.0:
            return True
        if self.rate <= 0.0:
            return False
        if self._left > 0:
            self._left -= 1
            self._clean_after = self._left == 0 and self._gap_forced
            return True
        if self._clean_after:
            self._clean_after = False
            return False
        if self._rng.random() < self._start_p:
            self.bursts += 1
            self._left = self._burst_length() - 1
            self._clean_after = self._left == 0 and self._gap_forced
            return True
        return False

    def _burst_length(self) -> int:
        q = 1.0 / self.mean
        length = 1
        while length < self.max_frames and self._rng.random() >= q:
            length += 1
        return length


def _decodes(line: bytes) -> bool:
    """True if ``line`` (one complete line with its LF) still decodes as a valid frame."""
    body = line[:-1] if line.endswith(b"\n") else line
    return b"\n" not in body and bool(body) and isinstance(parse_line(body, _ANY_VERB), Frame)


def _flip(line: bytes, rng: random.Random) -> bytes:
    out = bytearray(line)
    count = 1
    while count < FLIP_MAX_BYTES and rng.random() < FLIP_EXTRA_BYTE_P:
        count += 1
    for _ in range(count):
        i = rng.randrange(len(out) - 1)  # never the LF
        bit = rng.randrange(_BITS_PER_BYTE)
        flipped = out[i] ^ (1 << bit)
        if flipped == _LF:  # that would split the line: flip the neighbouring bit instead
            flipped = out[i] ^ (1 << ((bit + 1) % _BITS_PER_BYTE))
        out[i] = flipped
    return bytes(out)


def _drop_byte(line: bytes, rng: random.Random) -> bytes:
    i = rng.randrange(len(line) - 1)
    return line[:i] + line[i + 1 :]


def _garbage(line: bytes, rng: random.Random) -> bytes:
    junk = bytes(rng.randint(_PRINTABLE_FIRST, _PRINTABLE_LAST) for _ in range(rng.randint(1, GARBAGE_MAX_BYTES)))
    i = rng.randrange(len(line))  # anywhere before the LF
    return line[:i] + junk + line[i:]


_DAMAGERS = {Damage.FLIP: _flip, Damage.DROP_BYTE: _drop_byte, Damage.GARBAGE: _garbage}


def damage_line(line: bytes, rng: random.Random) -> tuple[bytes, Damage]:
    """Hit ``line`` (ending in LF) as a noisy line does; the result never decodes as a valid frame.

    A damage that happens to leave a valid frame (a CRC coincidence) is applied again.
    """
    kind = rng.choices(list(DAMAGE_WEIGHTS), weights=list(DAMAGE_WEIGHTS.values()))[0]
    if kind is Damage.LOST_LF:
        return line.rstrip(b"\n"), kind
    damaged = _DAMAGERS[kind](line, rng)
    for _ in range(DAMAGE_MAX_ATTEMPTS):
        if not _decodes(damaged):
            return damaged, kind
        damaged = _flip(damaged, rng)
    return line.rstrip(b"\n") + b"*\n", kind  # a line with two stars never decodes


class LinkFaults:
    """Faults on the board's serial line. Pure apart from the seeded random generators."""

    def __init__(
        self, rng: random.Random, burst_rng: random.Random | None = None, damage_rng: random.Random | None = None
    ) -> None:
        self._rng = rng
        self.burst = BurstModel(burst_rng or random.Random(0))
        """Which frames a burst hits: its own generator, so the pattern depends only on the frame count."""
        self._damage_rng = damage_rng or random.Random(1)
        self.crc_tx_rate = 0.0
        self.crc_rx_rate = 0.0
        self.drop_rate = 0.0
        self.reply_loss_rate = 0.0
        self.silent = False
        self.slow_reply_ms = 0
        self.hello_delay_ms = 0
        self.corrupted_tx = 0
        self.corrupted_rx = 0
        self.dropped_tx = 0
        self.silenced_tx = 0
        self.replies_lost = 0
        self.burst_corrupted = 0
        self.burst_damage: dict[str, int] = {kind.value: 0 for kind in Damage}

    def clear(self) -> None:
        """Remove every link fault (counters are kept)."""
        self.crc_tx_rate = self.crc_rx_rate = self.drop_rate = self.reply_loss_rate = 0.0
        self.silent = False
        self.slow_reply_ms = self.hello_delay_ms = 0
        self.burst.configure(0.0, BURST_DEFAULT_MEAN_FRAMES, BURST_DEFAULT_MAX_FRAMES)

    def outgoing(self, line: bytes) -> bytes | None:
        """What actually leaves the board for ``line``: itself, a corrupted copy, or nothing.

        A reply (a line with a numeric SEQ) may be lost (``reply_loss``); what reaches the line may be
        hit by a burst (``burst``), else by an independent corruption (``crc``).
        """
        if self.silent:
            self.silenced_tx += 1
            return None
        if self.reply_loss_rate and line[:1] != b"!" and self._rng.random() < self.reply_loss_rate:
            self.replies_lost += 1
            return None
        if self.drop_rate and self._rng.random() < self.drop_rate:
            self.dropped_tx += 1
            return None
        if self.burst.rate and self.burst.next_corrupted():
            damaged, kind = damage_line(line, self._damage_rng)
            self.burst_corrupted += 1
            self.burst_damage[kind.value] += 1
            return damaged
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
