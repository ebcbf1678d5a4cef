"""Numbers of the simulated board's real-world behaviours (clock, line noise, evidence), with units.

Simulator-local on purpose: none of them is part of the protocol, and the host must not use them.
"""

from __future__ import annotations

from typing import Final

# --- Board clock ------------------------------------------------------------------------------
TEL_DRIFT_MAX_PCT: Final = 20.0
"""Largest ``tel_drift`` either way: a crystal (or an RC oscillator) off by this much, per cent."""
TEL_JITTER_MAX_MS: Final = 5000
"""Largest ``tel_jitter`` accepted (the longest telemetry period)."""
TEL_JITTER_PERIOD_FRACTION_MAX: Final = 0.5
"""Jitter is capped at this fraction of the (drifted) period, so frames keep their order."""

# --- Burst corruption of the frames the board sends --------------------------------------------
BURST_DEFAULT_MEAN_FRAMES: Final = 3.0
"""Mean length of a burst of corrupted frames (geometric), in frames."""
BURST_DEFAULT_MAX_FRAMES: Final = 8
"""Longest burst of corrupted frames, in frames."""
BURST_MAX_FRAMES_LIMIT: Final = 10_000
"""Largest ``MAX`` accepted in ``burst=RATE:MEAN:MAX``."""
DAMAGE_WEIGHT_FLIP: Final = 0.45
"""Share of corrupted frames with flipped bits in one to a few bytes."""
DAMAGE_WEIGHT_DROP_BYTE: Final = 0.25
"""Share of corrupted frames that lost one byte (an overrun on the receiver)."""
DAMAGE_WEIGHT_GARBAGE: Final = 0.20
"""Share of corrupted frames with a few printable garbage bytes inserted."""
DAMAGE_WEIGHT_LOST_LF: Final = 0.10
"""Share of corrupted frames whose LF was lost, so the line runs into the next one."""
FLIP_MAX_BYTES: Final = 3
"""Most bytes hit by one flip damage."""
FLIP_EXTRA_BYTE_P: Final = 0.3
"""Probability that a flip damage hits one more byte (up to :data:`FLIP_MAX_BYTES`)."""
GARBAGE_MAX_BYTES: Final = 4
"""Most garbage bytes inserted by one garbage damage."""
DAMAGE_MAX_ATTEMPTS: Final = 16
"""Damage applied again at most this often when a damaged line still decoded (a CRC coincidence)."""

# --- Evidence kept in the snapshot -------------------------------------------------------------
BOOT_LOG_MAX_BOOTS: Final = 64
"""Boots kept in the ``boots`` evidence (most recent last)."""
BOOT_LOG_MAX_NONZERO_OUTS: Final = 50
"""Non-zero ``OUT`` requests kept per boot (the first ones after the boot; the count goes on)."""

# --- Seeds: one generator per concern, each derived from ``--seed`` ----------------------------
SEED_OFFSET_LINK: Final = 1
"""Generator of the independent link faults (``crc``, ``crc_rx``, ``drop``, ``reply_loss``)."""
SEED_OFFSET_TEL_CLOCK: Final = 2
"""Generator of the telemetry jitter."""
SEED_OFFSET_BURST: Final = 3
"""Generator of which frames a burst hits (depends only on the number of frames sent)."""
SEED_OFFSET_DAMAGE: Final = 4
"""Generator of how a hit frame is damaged."""
