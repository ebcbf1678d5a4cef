"""Serial protocol benchmark: PING round trip over a pty, and codec throughput.

Run as ``.venv/bin/python bench/bench_serial.py``; prints one JSON object. Not part of the tests.

- ``ping``: round-trip latency of ``PING`` through :class:`SerialLink` against the simulator running
  as a separate process (``python -m firmware_bridge.simulator``), telemetry on at 100 ms.
- ``codec``: frames/s :class:`FrameDecoder` parses from 4 KiB chunks of realistic traffic (TEL, replies),
  next to a plain ``bytes.split(b"\\n")`` over the same data in the same run. Best of a few rounds,
  by the wall clock and by this process's CPU time (the latter is less disturbed by other load on
  the machine, which ``load_avg_1m`` reports).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from typing import Any

from firmware_bridge.codec import FrameDecoder
from firmware_bridge.frame import HOST_RX_VERBS, Frame, encode_frame
from firmware_bridge.link import SerialLink

PING_COUNT = 1000
CODEC_FRAMES = 200_000
CHUNK_BYTES = 4096
CODEC_ROUNDS = 5
CODEC_TARGET_FRAMES_PER_S = 100_000


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


async def bench_ping() -> dict[str, Any]:
    """PING round trips against a simulator subprocess."""
    with tempfile.TemporaryDirectory() as tmp:
        link_path = os.path.join(tmp, "ttySIM")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "firmware_bridge.simulator", "--link", link_path,
            stdout=asyncio.subprocess.PIPE,
        )
        try:
            assert proc.stdout is not None
            await asyncio.wait_for(proc.stdout.readline(), 15.0)
            link = SerialLink(link_path, 3, telemetry_period_ms=100)
            await link.start()
            try:
                await link.wait_up(10.0)
                for _ in range(20):
                    await link.request("PING")
                samples: list[float] = []
                for _ in range(PING_COUNT):
                    start = time.perf_counter()
                    await link.request("PING")
                    samples.append((time.perf_counter() - start) * 1000)
                retries = link.counters.retries
            finally:
                await link.stop()
        finally:
            proc.send_signal(signal.SIGTERM)
            await proc.wait()
    samples.sort()
    return {
        "n": len(samples),
        "p50_ms": round(statistics.median(samples), 3),
        "p99_ms": round(percentile(samples, 0.99), 3),
        "max_ms": round(samples[-1], 3),
        "retries": retries,
    }


def traffic(frames: int) -> bytes:
    """Realistic controller -> host traffic: mostly 3-zone TEL, some replies and events."""
    rng = random.Random(1)
    lines = []
    for n in range(frames):
        kind = n % 10
        if kind < 8:
            fields = {"n": str(n % 65536), "up": str(n * 100)}
            fields |= {f"t{i}": f"{rng.uniform(20, 260):.2f}" for i in range(3)}
            fields |= {f"d{i}": str(rng.randrange(1001)) for i in range(3)}
            fields |= {"rpm": f"{rng.uniform(0, 80):.2f}", "bar": f"{rng.uniform(0, 300):.2f}", "fault": "none"}
            frame = Frame(None, "TEL", fields)
        elif kind == 8:
            frame = Frame(n % 65535 + 1, "OK", {"up": str(n)})
        else:
            frame = Frame(None, "FAULT", {"code": "sensor", "zone": "1"})
        lines.append(encode_frame(frame))
    return b"".join(lines)


def bench_codec() -> dict[str, Any]:
    """Decoder frames/s next to ``bytes.split`` over the same chunks (best of a few rounds)."""
    data = traffic(CODEC_FRAMES)
    chunks = [data[i : i + CHUNK_BYTES] for i in range(0, len(data), CHUNK_BYTES)]
    best_codec = best_split = best_codec_cpu = best_split_cpu = float("inf")
    for _ in range(CODEC_ROUNDS):
        decoder = FrameDecoder(HOST_RX_VERBS)
        start, start_cpu = time.perf_counter(), time.process_time()
        for chunk in chunks:
            decoder.feed(chunk)
        best_codec = min(best_codec, time.perf_counter() - start)
        best_codec_cpu = min(best_codec_cpu, time.process_time() - start_cpu)
        assert decoder.frames == CODEC_FRAMES and not decoder.errors

        start, start_cpu = time.perf_counter(), time.process_time()
        rest = b""
        count = 0
        for chunk in chunks:
            parts = (rest + chunk).split(b"\n")
            rest = parts.pop()
            count += len(parts)
        best_split = min(best_split, time.perf_counter() - start)
        best_split_cpu = min(best_split_cpu, time.process_time() - start_cpu)
        assert count == CODEC_FRAMES
    codec_fps = CODEC_FRAMES / best_codec
    split_fps = CODEC_FRAMES / best_split
    return {
        "frames": CODEC_FRAMES,
        "bytes": len(data),
        "codec_frames_per_s": round(codec_fps),
        "split_baseline_frames_per_s": round(split_fps),
        "codec_to_split_ratio": round(codec_fps / split_fps, 4),
        "codec_frames_per_cpu_s": round(CODEC_FRAMES / best_codec_cpu),
        "split_baseline_frames_per_cpu_s": round(CODEC_FRAMES / max(best_split_cpu, 1e-9)),
        "target_frames_per_s": CODEC_TARGET_FRAMES_PER_S,
        "meets_target_wall": codec_fps >= CODEC_TARGET_FRAMES_PER_S,
        "meets_target_cpu": CODEC_FRAMES / best_codec_cpu >= CODEC_TARGET_FRAMES_PER_S,
    }


def main() -> None:
    """Run both benchmarks and print one JSON object."""
    result = {
        "ping": asyncio.run(bench_ping()),
        "codec": bench_codec(),
        "python": sys.version.split()[0],
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
