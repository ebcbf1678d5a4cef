"""Fault injection: the command language (CLI ``--fault``, control channel, tests).

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
    clear         remove every injected fault (also undoes the real-world ones below, cancels a
                  pending reboot; a swapped board stays swapped)

Real-world behaviours of a board on a real line::

    tel_jitter=MS   each TEL is sent at its nominal time + uniform jitter in [-MS, +MS] (capped at
                    half the period), so intervals vary by up to 2*MS while their mean stays the period
    tel_drift=PCT   the board's clock is PCT per cent slow (negative: fast), |PCT| <= 20: TEL comes
                    every tel_ms * (1 + PCT/100) real ms; its ``up`` and heartbeat run on that clock too
    burst=RATE[:MEAN[:MAX]]  a long-run fraction RATE of the frames the board sends is damaged (bits
                    flipped, a byte lost, garbage inserted, or the LF lost so the line runs into the
                    next), in bursts of geometric length with mean MEAN frames (default 3), at most MAX
                    frames (default 8); a damaged line never decodes as a valid frame
    reply_loss=RATE every reply (OK/ERR) is lost with probability RATE; telemetry and events still
                    flow and the board still acts on what it received
    reboot=MS       a spontaneous reboot (brown-out) MS from now: outputs 0, telemetry off, faults
                    cleared, ``! BOOT``; a new reboot=MS replaces a pending one
    hello_delay=MS  the reply to HELLO comes MS late (other replies unaffected; 0 = off)
    fault_event=CODE:ZONE  send ``! FAULT code=CODE zone=ZONE`` once without latching anything (TEL
                    keeps its fault=); CODE and ZONE are any protocol VALUEs (``-`` for no zone)
    swap=ID         another board takes this one's place: it boots (``! BOOT``) and says id=ID in HELLO
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from firmware_bridge.frame import VALUE_RE
from firmware_bridge.simulator.line import LinkFaults, corrupt_line
from firmware_bridge.simulator.plant import HeaterCondition, SensorCondition
from firmware_bridge.simulator.sim_constants import (
    BURST_DEFAULT_MAX_FRAMES,
    BURST_DEFAULT_MEAN_FRAMES,
    BURST_MAX_FRAMES_LIMIT,
    TEL_DRIFT_MAX_PCT,
    TEL_JITTER_MAX_MS,
)

__all__ = ["FaultCommand", "FaultKind", "FaultSyntaxError", "LinkFaults", "corrupt_line", "parse_fault"]


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
    TEL_JITTER = "tel_jitter"
    TEL_DRIFT = "tel_drift"
    BURST = "burst"
    REPLY_LOSS = "reply_loss"
    REBOOT = "reboot"
    HELLO_DELAY = "hello_delay"
    FAULT_EVENT = "fault_event"
    SWAP = "swap"


_RATE_KINDS = frozenset({FaultKind.CRC, FaultKind.CRC_RX, FaultKind.DROP, FaultKind.REPLY_LOSS})
_MS_KINDS = frozenset({FaultKind.SLOW, FaultKind.REBOOT, FaultKind.HELLO_DELAY, FaultKind.TEL_JITTER})


@dataclass(frozen=True, slots=True)
class FaultCommand:
    """A parsed injection command."""

    kind: FaultKind
    zone: int | None = None
    """Zone of ``sensor``/``heater`` (checked against the board's zones)."""
    condition: SensorCondition | HeaterCondition | None = None
    rate: float | None = None
    """0..1 for ``crc``, ``crc_rx``, ``drop``, ``reply_loss``, ``burst``."""
    on: bool | None = None
    """For ``silence``."""
    ms: int | None = None
    """For ``slow``, ``reboot``, ``hello_delay``, ``tel_jitter`` and ``unplug`` (replug after this
    long; ``None``: stay unplugged)."""
    pct: float | None = None
    """For ``tel_drift``."""
    burst_mean: float | None = None
    """Mean burst length (frames) for ``burst``."""
    burst_max: int | None = None
    """Longest burst (frames) for ``burst``."""
    code: str | None = None
    """``code=`` of a ``fault_event`` (any VALUE, known to the protocol or not)."""
    event_zone: str | None = None
    """``zone=`` of a ``fault_event`` (any VALUE; not checked against the board's zones)."""
    board_id: str | None = None
    """New board's ``id`` for ``swap``."""


class FaultSyntaxError(ValueError):
    """An injection command that does not parse."""


def _value_token(kind: FaultKind, what: str, text: str) -> str:
    if not VALUE_RE.fullmatch(text):
        raise FaultSyntaxError(f"{kind}: {what} must be a protocol VALUE (1..32 of A-Z a-z 0-9 . - _ +)")
    return text


def _burst(arg: str) -> FaultCommand:
    parts = arg.split(":")
    if len(parts) > 3:
        raise FaultSyntaxError("burst=RATE[:MEAN[:MAX]]")
    rate = float(parts[0])
    mean = float(parts[1]) if len(parts) > 1 else BURST_DEFAULT_MEAN_FRAMES
    max_frames = int(parts[2]) if len(parts) > 2 else BURST_DEFAULT_MAX_FRAMES
    if not 0.0 <= rate <= 1.0:
        raise FaultSyntaxError("burst: RATE must be 0..1")
    if not 1 <= max_frames <= BURST_MAX_FRAMES_LIMIT:
        raise FaultSyntaxError(f"burst: MAX must be 1..{BURST_MAX_FRAMES_LIMIT} frames")
    if not 1.0 <= mean <= max_frames:
        raise FaultSyntaxError(f"burst: MEAN must be 1..MAX ({max_frames}) frames")
    return FaultCommand(FaultKind.BURST, rate=rate, burst_mean=mean, burst_max=max_frames)


def _with_argument(kind: FaultKind, arg: str) -> FaultCommand | None:
    """Parse the commands that take an argument; ``None`` for the others."""
    if kind in (FaultKind.SENSOR, FaultKind.HEATER):
        zone_text, _, cond_text = arg.partition(":")
        cls = SensorCondition if kind is FaultKind.SENSOR else HeaterCondition
        return FaultCommand(kind, zone=int(zone_text), condition=cls(cond_text))
    if kind in _RATE_KINDS:
        rate = float(arg)
        if not 0.0 <= rate <= 1.0:
            raise FaultSyntaxError(f"{kind}: rate must be 0..1")
        return FaultCommand(kind, rate=rate)
    if kind is FaultKind.SILENCE:
        if arg not in ("on", "off", ""):
            raise FaultSyntaxError("silence=on|off")
        return FaultCommand(kind, on=arg != "off")
    if kind in _MS_KINDS or (kind is FaultKind.UNPLUG and arg):
        ms = int(arg)
        if ms < 0:
            raise FaultSyntaxError(f"{kind}=MS with MS >= 0")
        if kind is FaultKind.TEL_JITTER and ms > TEL_JITTER_MAX_MS:
            raise FaultSyntaxError(f"tel_jitter: MS must be 0..{TEL_JITTER_MAX_MS}")
        return FaultCommand(kind, ms=ms)
    if kind is FaultKind.TEL_DRIFT:
        pct = float(arg)
        if not -TEL_DRIFT_MAX_PCT <= pct <= TEL_DRIFT_MAX_PCT:
            raise FaultSyntaxError(f"tel_drift: PCT must be -{TEL_DRIFT_MAX_PCT:g}..{TEL_DRIFT_MAX_PCT:g}")
        return FaultCommand(kind, pct=pct)
    if kind is FaultKind.BURST:
        return _burst(arg)
    if kind is FaultKind.FAULT_EVENT:
        code, sep, zone = arg.partition(":")
        if not sep:
            raise FaultSyntaxError("fault_event=CODE:ZONE")
        return FaultCommand(kind, code=_value_token(kind, "CODE", code), event_zone=_value_token(kind, "ZONE", zone))
    if kind is FaultKind.SWAP:
        return FaultCommand(kind, board_id=_value_token(kind, "ID", arg))
    return None


_NEEDS_ARGUMENT = _RATE_KINDS | _MS_KINDS | {
    FaultKind.SENSOR, FaultKind.HEATER, FaultKind.TEL_DRIFT, FaultKind.BURST, FaultKind.FAULT_EVENT, FaultKind.SWAP
}


def parse_fault(text: str) -> FaultCommand:
    """Parse one command such as ``sensor=0:open``, ``crc=0.2`` or ``burst=0.2:3:8``."""
    name, _, arg = text.strip().partition("=")
    try:
        kind = FaultKind(name)
    except ValueError:
        raise FaultSyntaxError(f"unknown fault {name!r}") from None
    if kind in _NEEDS_ARGUMENT and not arg:
        raise FaultSyntaxError(f"{kind} needs an argument")
    try:
        cmd = _with_argument(kind, arg)
    except ValueError as exc:
        if isinstance(exc, FaultSyntaxError):
            raise
        raise FaultSyntaxError(f"bad argument for {kind}: {arg!r}") from None
    if cmd is not None:
        return cmd
    if arg:
        raise FaultSyntaxError(f"{kind} takes no argument")
    return FaultCommand(kind)
