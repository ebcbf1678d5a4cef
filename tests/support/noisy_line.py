"""Virtual-time runs of a noisy line against the host's loss rule (tests and ``bench_control_loop.py``).

Hours of a board's output are generated in virtual time with the simulator's own line model (its TEL
clock with drift and jitter, its burst corruption) and fed, byte for byte, to the host's decoder and the
host's loss rule (``LinkWatch`` with the default ``LossLimits``): one ``OUT`` per 100 ms period answered
5 ms later, ``TEL`` on the board's clock. Every loss it reports is false: the board never stopped. It
exercises the rule and the decoder, not the processes' scheduling (the real-time phases measure that).
"""

from __future__ import annotations

import random
from typing import Any

from firmware_bridge.codec import FrameDecoder
from firmware_bridge.frame import HOST_RX_VERBS, Frame, encode_frame, make_frame
from firmware_bridge.link_logic import LinkWatch, LossLimits
from firmware_bridge.simulator.board_clock import BoardClock, TelemetryClock
from firmware_bridge.simulator.line import LinkFaults

LOOP_PERIOD_S = 0.1
REPLY_DELAY_S = 0.005
TEL_PERIOD_MS = 100
SECONDS_PER_HOUR = 3600
TEL_LINE = encode_frame(make_frame(None, "TEL", {
    "n": 1, "up": 123456, "t0": "200.12", "t1": "199.87", "t2": "201.03", "d0": 412, "d1": 398, "d2": 455,
    "rpm": "30.0", "bar": "112.5", "fault": "none",
}))


def false_losses(rate: float, hours: float, *, burst_mean: float, burst_max: int, drift_pct: float,
                 jitter_ms: float, seed: int = 1) -> dict[str, Any]:
    """Run ``hours`` of virtual time with a share ``rate`` of the board's frames damaged in bursts of
    ``burst_mean`` frames on average, at most ``burst_max``; the losses the host's rule declares."""
    tel = TelemetryClock(BoardClock(0.0), random.Random(seed))
    tel.set_jitter(jitter_ms)
    tel.start(TEL_PERIOD_MS, 0.0)
    tel.set_drift(drift_pct, 0.0)
    line = LinkFaults(random.Random(seed + 1), random.Random(seed + 2), random.Random(seed + 3))
    line.burst.configure(rate, burst_mean, burst_max)
    decoder = FrameDecoder(HOST_RX_VERBS)
    limits = LossLimits()
    watch = LinkWatch()
    watch.arm(limits.window_ms(TEL_PERIOD_MS), True, 0.0)
    end = hours * SECONDS_PER_HOUR
    next_out, reply_at, seq, losses, sent = LOOP_PERIOD_S, None, 1, 0, 0
    while True:
        tel_at = tel.next_due_s
        assert tel_at is not None
        now = min(t for t in (tel_at, next_out, reply_at) if t is not None)
        if now >= end:
            break
        if watch.expired(now) is not None:
            losses += 1
            watch.arm(limits.window_ms(TEL_PERIOD_MS), True, now)  # the link reconnects
        if now == reply_at:
            reply_at = None
            data = line.outgoing(encode_frame(Frame(seq, "OK", {})))
            sent += 1
            if data is not None and any(isinstance(f, Frame) for f in decoder.feed(data)):
                watch.replied()
        elif now == next_out:
            seq = seq % 65535 + 1
            watch.request_sent(now)
            reply_at, next_out = now + REPLY_DELAY_S, next_out + LOOP_PERIOD_S
        else:
            tel.generated(now)
            data = line.outgoing(TEL_LINE)
            sent += 1
            if data is not None and any(isinstance(f, Frame) for f in decoder.feed(data)):
                watch.telemetry(now)
    bad = decoder.crc_errors + decoder.framing_errors
    return {
        "corruption_rate": rate, "burst_mean_frames": burst_mean, "burst_max_frames": burst_max,
        "virtual_hours": hours, "board_frames": sent,
        "bad_line_share": round(line.burst_corrupted / max(sent, 1), 3), "host_bad_lines": bad,
        "false_link_losses": losses, "false_link_losses_per_hour": round(losses / hours, 3),
        "upper_95_per_hour_if_none_seen": round(3.0 / hours, 3) if losses == 0 else None,
    }
