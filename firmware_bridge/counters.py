"""Counters of the host link."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(slots=True)
class LinkCounters:
    """Everything the link counts since it was created (never reset by reconnects)."""

    frames_rx: int = 0
    """Valid frames decoded."""
    frames_tx: int = 0
    """Frames written (retries included)."""
    crc_errors: int = 0
    framing_errors: int = 0
    """Lines discarded for anything but the CRC: length, characters, syntax, verb, repeated key."""
    protocol_errors: int = 0
    """Valid frames with unusable content (bad ``TEL`` fields, ``!`` on a reply, ...)."""
    retries: int = 0
    gaps: int = 0
    """``TEL`` frames missing from the ``n`` sequence."""
    stale_replies: int = 0
    """Replies whose SEQ matches no outstanding request (e.g. the answer to a retried request)."""
    tx_dropped: int = 0
    """Frames not written because the write buffer was full."""
    events_dropped: int = 0
    """Events a slow subscriber did not take in time."""
    telemetry: int = 0
    fault_events: int = 0
    boots: int = 0
    """Controller restarts: ``! BOOT`` frames, and restarts inferred from ``TEL`` uptime going back."""
    inferred_boots: int = 0
    """Restarts seen only as ``TEL`` uptime going back (the ``BOOT`` frame was lost on the line)."""
    board_swaps: int = 0
    """``HELLO`` replies with another board ``id`` than the board known before."""
    handshakes: int = 0
    """Successful handshakes (first connection and every re-handshake)."""
    reconnects: int = 0
    """Handshakes after the port was closed (loss, unplug); a re-handshake after ``BOOT`` is not one."""
    link_losses: int = 0
    open_failures: int = 0
    """Attempts to open the port that failed (the port is absent, e.g. unplugged); retried with back-off."""

    def as_dict(self) -> dict[str, int]:
        """A plain copy, for printing or metrics."""
        return asdict(self)
