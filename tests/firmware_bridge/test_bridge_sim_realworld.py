"""A real board on a real line: the simulator's clock drift and jitter, burst noise, lost replies,
spontaneous reboots, a slow handshake, unconfirmed fault events and a swapped board.

Every test talks to the simulator over its real pty with raw frames (no host link involved), and
reads the evidence the simulator keeps in its ``state`` snapshot.
"""

from __future__ import annotations

import asyncio
import os
import signal
import termios
import tty
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from firmware_bridge.codec import FrameDecoder
from firmware_bridge.errors import FrameError
from firmware_bridge.frame import HOST_RX_VERBS, Frame, encode_frame
from firmware_bridge.simulator.control import send_command
from firmware_bridge.simulator.runtime import Simulator
from tests.firmware_bridge.fb_helpers import PYTHON, SimFactory, wait_for

Received = tuple[float, Frame | FrameError]


class RawHost:
    """A bare host on the simulator's pty: raw requests out, every decoded line in with its arrival time."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC)
        tty.setraw(self.fd, termios.TCSANOW)  # already raw (the board set it); keep what is queued
        self.loop = asyncio.get_running_loop()
        self.decoder = FrameDecoder(HOST_RX_VERBS)
        self.received: list[Received] = []
        self.seq = 0
        self.loop.add_reader(self.fd, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self.fd, 65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.loop.remove_reader(self.fd)
            return
        now = self.loop.time()
        self.received += [(now, item) for item in self.decoder.feed(data)]

    def send(self, verb: str, **fields: object) -> int:
        """Send one request with the next SEQ; return the SEQ."""
        self.seq += 1
        os.write(self.fd, encode_frame(Frame(self.seq, verb, {k: str(v) for k, v in fields.items()})))
        return self.seq

    def frames(self, verb: str | None = None, since: float = 0.0) -> list[Frame]:
        """Valid frames received (of ``verb``) at or after loop time ``since``."""
        return [f for t, f in self.received if isinstance(f, Frame) and t >= since and verb in (None, f.verb)]

    def timed(self, verb: str) -> list[tuple[float, Frame]]:
        """Valid frames of ``verb`` with their arrival times."""
        return [(t, f) for t, f in self.received if isinstance(f, Frame) and f.verb == verb]

    def reply(self, seq: int) -> tuple[float, Frame] | None:
        """The first reply to ``seq`` and when it arrived."""
        return next(((t, f) for t, f in self.received if isinstance(f, Frame) and f.seq == seq), None)

    async def call(self, verb: str, **fields: object) -> Frame:
        """Send a request and wait for its reply."""
        seq = self.send(verb, **fields)
        await wait_for(lambda: self.reply(seq) is not None, what=f"the reply to {verb}")
        answer = self.reply(seq)
        assert answer is not None
        return answer[1]

    def close(self) -> None:
        self.loop.remove_reader(self.fd)
        os.close(self.fd)


async def settle(seconds: float) -> None:
    await asyncio.sleep(seconds)


def telemetry(host: RawHost, since: float = 0.0) -> list[Frame]:
    return host.frames("TEL", since)


@pytest.fixture
async def board(make_sim: SimFactory) -> AsyncIterator[Callable[..., Any]]:
    """``sim, host = await board(seed=..., zones=...)``: a simulator and a raw host on its pty."""
    hosts: list[RawHost] = []

    async def factory(seed: int = 1, **controller: Any) -> tuple[Simulator, RawHost]:
        sim = await make_sim(seed=seed, **controller)
        host = RawHost(sim.port_path)
        hosts.append(host)
        return sim, host

    yield factory
    for host in hosts:
        host.close()


# --- 1. telemetry clock -----------------------------------------------------------------------


async def test_tel_drift_stretches_the_period_and_the_board_uptime_runs_on_its_clock(board: Any) -> None:
    sim, host = await board(seed=3)
    sim.inject("tel_drift=4")
    assert (await host.call("TEL", ms=50)).verb == "OK"
    await settle(2.6)
    stats = sim.snapshot()["tel_intervals_ms"]
    assert stats["nominal"] == pytest.approx(52.0)
    assert stats["count"] >= 35, stats
    assert 51.0 <= stats["mean"] <= 53.5, f"50 ms on a clock 4 % slow is 52 ms: {stats}"
    tel = host.timed("TEL")
    ns = [int(f.fields["n"]) for _, f in tel]
    assert ns == list(range(ns[0], ns[0] + len(ns))), "n +1 per TEL, none lost on a clean line"
    host_mean_ms = (tel[-1][0] - tel[0][0]) * 1000 / (len(tel) - 1)
    assert 51.0 <= host_mean_ms <= 54.0, host_mean_ms
    ups = [int(f.fields["up"]) for _, f in tel]
    board_mean_ms = (ups[-1] - ups[0]) / (len(ups) - 1)
    assert 49.0 <= board_mean_ms <= 51.0, "by the board's own clock the period is still 50 ms"


async def test_tel_jitter_widens_the_intervals_without_drifting(board: Any) -> None:
    sim, host = await board(seed=5)
    sim.inject("tel_drift=-5")
    sim.inject("tel_jitter=10")
    assert (await host.call("TEL", ms=50)).verb == "OK"
    await settle(2.6)
    stats = sim.snapshot()["tel_intervals_ms"]
    assert stats["count"] >= 40, stats
    assert 46.0 <= stats["mean"] <= 49.0, f"jitter does not accumulate: mean stays 47.5 ms: {stats}"
    assert stats["min"] < 40.0 and stats["max"] > 55.0, f"+-10 ms per frame: intervals spread: {stats}"
    ns = [int(f.fields["n"]) for f in telemetry(host)]
    assert ns == list(range(ns[0], ns[0] + len(ns))), "frames keep their order, n +1 each"


# --- 2. burst corruption ----------------------------------------------------------------------


def record_line(sim: Simulator) -> list[tuple[bytes, bytes | None]]:
    """Wrap the board's line so the test sees each (intended, actual) pair."""
    pairs: list[tuple[bytes, bytes | None]] = []
    original = sim.link_faults.outgoing

    def outgoing(line: bytes) -> bytes | None:
        actual = original(line)
        pairs.append((line, actual))
        return actual

    sim.link_faults.outgoing = outgoing  # type: ignore[method-assign]
    return pairs


def runs(flags: list[bool]) -> list[int]:
    """Lengths of the runs of True in ``flags``."""
    out, current = [], 0
    for flag in [*flags, False]:
        if flag:
            current += 1
        elif current:
            out.append(current)
            current = 0
    return out


async def test_burst_corrupts_a_share_of_frames_in_runs_and_never_yields_a_wrong_frame(board: Any) -> None:
    sim, host = await board(seed=2)
    pairs = record_line(sim)
    sim.inject("burst=0.2")
    host.send("TEL", ms=20)
    await settle(2.6)
    host.send("TEL", ms=0)
    await settle(0.1)
    hit = [intended != actual for intended, actual in pairs]
    share = sum(hit) / len(pairs)
    line = sim.snapshot()["line"]
    assert len(pairs) >= 100 and line["burst_corrupted"] == sum(hit)
    assert 0.08 <= share <= 0.35, f"about 20 % of {len(pairs)} frames: {share:.2f}"
    lengths = runs(hit)
    assert max(lengths) >= 2 and max(lengths) <= 8, f"several in a row, at most 8: {lengths}"
    assert sum(1 for count in line["burst_damage"].values() if count) >= 2, line["burst_damage"]

    # What the host decoded is exactly the frames that crossed intact (and kept the LF before them).
    expected: list[bytes] = []
    lf_before = True
    for intended, actual in pairs:
        if actual == intended and lf_before:
            expected.append(intended)
        lf_before = actual is None or actual.endswith(b"\n")
    got = [encode_frame(f) for f in host.frames()]
    if got[:1] == [encode_frame(Frame(None, "BOOT", {"fw": "1.0.0-sim"}))]:
        got = got[1:]  # sent at power-on, before the recording started
    assert got == expected, "no damaged line decoded as a (different) valid frame, none went missing"
    errors = [r for _, r in host.received if isinstance(r, FrameError)]
    assert errors, "the damaged lines arrived as garbage"


# --- 3. lost replies --------------------------------------------------------------------------


async def test_reply_loss_loses_answers_but_the_board_still_acts(board: Any) -> None:
    sim, host = await board(seed=1)
    assert (await host.call("HELLO", proto=1)).verb == "OK"
    assert (await host.call("TEL", ms=50)).verb == "OK"
    sim.inject("reply_loss=1")
    started = host.loop.time()
    ping = host.send("PING")
    out = host.send("OUT", d0=500)
    await wait_for(
        lambda: any(f.fields["d0"] == "500" for f in telemetry(host, started)), what="TEL with the new output"
    )
    await settle(0.3)
    assert host.reply(ping) is None and host.reply(out) is None, "no OK for PING or OUT"
    assert len(telemetry(host, started)) >= 5, "telemetry keeps flowing"
    assert sim.snapshot()["line"]["replies_lost"] == 2
    sim.inject("reply_loss=0")
    assert (await host.call("PING")).verb == "OK"


# --- 4. spontaneous reboot --------------------------------------------------------------------


async def test_reboot_is_a_boot_some_time_later_with_everything_off(board: Any) -> None:
    sim, host = await board(seed=1)
    await host.call("HELLO", proto=1)
    await host.call("TEL", ms=50)
    await host.call("OUT", d0=500, d1=250)
    await host.call("MOTOR", rpm=20)
    await host.call("ESTOP")
    assert sim.snapshot()["fault"] == "estop"
    await host.call("CLEAR")
    await host.call("OUT", d0=500)
    injected_at = host.loop.time()
    sim.inject("reboot=200")
    assert 0 < sim.snapshot()["injected"]["reboot_in_ms"] <= 200
    await wait_for(lambda: host.frames("BOOT", injected_at), what="BOOT after the reboot")
    boot_at = next(t for t, f in host.timed("BOOT") if t >= injected_at)
    assert boot_at - injected_at >= 0.19, "not before its time"
    assert host.frames("BOOT", injected_at) == [Frame(None, "BOOT", {"fw": "1.0.0-sim"})]
    snap = sim.snapshot()
    assert (snap["applied"], snap["motor_rpm"], snap["tel_ms"], snap["faults"]) == ([0, 0, 0], 0.0, 0, [])
    assert snap["boots"][-1]["reason"] == "reboot" and snap["injected"]["reboot_in_ms"] is None
    await settle(0.2)
    assert not telemetry(host, boot_at + 0.01), "telemetry is off after a boot"
    status = await host.call("STATUS")
    assert status.fields["fault"] == "none" and int(status.fields["up"]) < 1000


# --- 5. slow handshake ------------------------------------------------------------------------


async def test_hello_delay_delays_only_the_hello_reply(board: Any) -> None:
    sim, host = await board(seed=1)
    sim.inject("hello_delay=40")
    sent_at = host.loop.time()
    hello = host.send("HELLO", proto=1)
    ping = host.send("PING")
    await wait_for(lambda: host.reply(hello) is not None, what="the HELLO reply")
    hello_reply, ping_reply = host.reply(hello), host.reply(ping)
    assert hello_reply is not None and ping_reply is not None
    assert hello_reply[0] - sent_at >= 0.039, "40 ms late"
    assert ping_reply[0] < hello_reply[0], "the PING sent after it was answered first"
    assert hello_reply[1].verb == "OK" and hello_reply[1].fields["id"] == "SIM0001"
    sim.inject("hello_delay=0")
    assert (await host.call("HELLO", proto=1)).verb == "OK"
    assert sim.snapshot()["injected"]["hello_delay_ms"] == 0


# --- 6. a fault event the telemetry does not confirm ------------------------------------------


@pytest.mark.parametrize(("spec", "fields"), [("melted:9", {"code": "melted", "zone": "9"}),
                                              ("internal:-", {"code": "internal", "zone": "-"})])
async def test_fault_event_is_sent_once_and_nothing_is_latched(
    board: Any, spec: str, fields: dict[str, str]
) -> None:
    sim, host = await board(seed=1)
    await host.call("HELLO", proto=1)
    await host.call("TEL", ms=50)
    await host.call("OUT", d0=300)
    injected_at = host.loop.time()
    sim.inject(f"fault_event={spec}")
    await wait_for(lambda: host.frames("FAULT"), what="the FAULT event")
    await settle(0.3)
    assert host.frames("FAULT") == [Frame(None, "FAULT", fields)], "exactly that frame, once"
    after = telemetry(host, injected_at + 0.05)
    assert after and all(f.fields["fault"] == "none" and f.fields["d0"] == "300" for f in after)
    assert (await host.call("STATUS")).fields["fault"] == "none"
    snap = sim.snapshot()
    assert snap["faults"] == [] and snap["line"]["fault_events_injected"] == 1
    assert snap["line"]["fault_events_sent"] == 1


# --- 7. a swapped board -----------------------------------------------------------------------


async def test_swap_boots_another_board_with_another_id(board: Any) -> None:
    sim, host = await board(seed=1)
    assert (await host.call("HELLO", proto=1)).fields["id"] == "SIM0001"
    await host.call("OUT", d2=700)
    swapped_at = host.loop.time()
    sim.inject("swap=NEW1")
    await wait_for(lambda: host.frames("BOOT", swapped_at), what="BOOT of the new board")
    assert (await host.call("HELLO", proto=1)).fields["id"] == "NEW1"
    snap = sim.snapshot()
    assert snap["applied"] == [0, 0, 0] and snap["board_id"] == "NEW1"
    assert [(b["reason"], b["board_id"]) for b in snap["boots"]] == [("start", "SIM0001"), ("swap", "NEW1")]


# --- 8. evidence of what the host did after each boot -----------------------------------------


async def test_boots_evidence_records_non_zero_outputs_after_each_boot(board: Any) -> None:
    sim, host = await board(seed=1)
    await host.call("HELLO", proto=1)
    await host.call("OUT", d0=500)
    sim.inject("reset")
    await host.call("OUT", d1=300)  # a host carrying on as if nothing happened
    await host.call("OUT", d0=0)
    await host.call("HELLO", proto=1)
    await host.call("OUT", d2=100, d0=0)
    boots = sim.snapshot()["boots"]
    assert [(b["index"], b["reason"]) for b in boots] == [(0, "start"), (1, "reset")]
    first, second = boots
    assert 0.0 <= first["at_ms"] < second["at_ms"]
    assert (first["hellos"], first["out_total"], first["out_nonzero"]) == (1, 1, 1)
    assert first["nonzero_out"][0]["hello_before"] is True
    assert (second["hellos"], second["out_total"], second["out_nonzero"]) == (1, 3, 2)
    before, after = second["nonzero_out"]
    assert before["fields"] == {"d1": "300"} and before["hello_before"] is False and before["accepted"] is True
    assert after["fields"] == {"d2": "100", "d0": "0"} and after["hello_before"] is True
    assert 0.0 <= before["at_ms"] <= after["at_ms"]


# --- clear ------------------------------------------------------------------------------------


async def test_clear_undoes_every_real_world_fault(board: Any) -> None:
    sim, host = await board(seed=1)
    for spec in ("burst=1", "reply_loss=1", "hello_delay=500", "tel_jitter=20", "tel_drift=10", "reboot=300"):
        sim.inject(spec)
    sim.inject("clear")
    injected = sim.snapshot()["injected"]
    assert injected == {
        "tel_jitter_ms": 0.0, "tel_drift_pct": 0.0, "burst": {"rate": 0.0, "mean": 3.0, "max": 8},
        "reply_loss": 0.0, "hello_delay_ms": 0, "slow_ms": 0, "reboot_in_ms": None,
    }
    cleared_at = host.loop.time()
    hello = await host.call("HELLO", proto=1)
    assert hello.verb == "OK" and host.loop.time() - cleared_at < 0.4
    await settle(0.4)
    assert [b["reason"] for b in sim.snapshot()["boots"]] == ["start"], "the pending reboot was cancelled"
    assert len(host.frames("BOOT")) <= 1, "at most the power-on BOOT"
    assert not [r for _, r in host.received if isinstance(r, FrameError)]


# --- the real process: command-line options and the control socket ---------------------------


async def run_simulator(tmp_path: Path, *args: str) -> tuple[asyncio.subprocess.Process, str, str]:
    """Start ``python -m firmware_bridge.simulator``; return the process, its link and control socket."""
    link, control = str(tmp_path / "ttyRW"), str(tmp_path / "rw.sock")
    proc = await asyncio.create_subprocess_exec(
        PYTHON, "-m", "firmware_bridge.simulator", "--link", link, "--control", control, *args,
        stdout=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(15.0):
        assert (await proc.stdout.readline()).startswith(b"/dev/")  # type: ignore[union-attr]
    await wait_for(lambda: os.path.exists(control), what="control socket")
    return proc, link, control


async def command(control: str, line: str) -> dict[str, Any]:
    answer = await send_command(control, line)
    assert answer["ok"], answer
    return answer


async def test_the_simulator_process_takes_the_real_world_options(tmp_path: Path) -> None:
    proc, link, control = await run_simulator(
        tmp_path, "--zones", "2", "--seed", "11", "--tel-jitter", "8", "--tel-drift", "-5",
        "--fault", "burst=0.3:2:4",
    )
    host = RawHost(link)
    try:
        host.send("HELLO", proto=1)  # its reply may be damaged: the board acts on the request all the same
        host.send("TEL", ms=50)
        await settle(2.5)
        state = (await command(control, "state"))["state"]
        injected = state["injected"]
        assert (injected["tel_jitter_ms"], injected["tel_drift_pct"]) == (8.0, -5.0)
        assert injected["burst"] == {"rate": 0.3, "mean": 2.0, "max": 4}
        stats = state["tel_intervals_ms"]
        assert 46.0 <= stats["mean"] <= 49.5 and stats["max"] - stats["min"] > 10.0, stats
        share = state["line"]["burst_corrupted"] / state["link"]["frames_tx"]
        assert 0.12 <= share <= 0.5, share
        ns = [int(f.fields["n"]) for f in telemetry(host)]
        assert ns == sorted(set(ns)), "what decodes is genuine: n only increases"
        assert max(b - a - 1 for a, b in zip(ns, ns[1:])) >= 2, "frames lost several in a row"

        boots_before = len(host.frames("BOOT"))  # the power-on BOOT, unless the line ate it
        for line in ("clear", "fault_event=overtemp:7", "swap=B2"):
            await command(control, line)
        await wait_for(lambda: len(host.frames("BOOT")) > boots_before, what="BOOT of the swapped board")
        assert (await host.call("HELLO", proto=1)).fields["id"] == "B2"
        assert host.frames("FAULT") == [Frame(None, "FAULT", {"code": "overtemp", "zone": "7"})]
        state = (await command(control, "state"))["state"]
        assert [b["reason"] for b in state["boots"]] == ["start", "swap"] and state["faults"] == []
        for bad in ("burst=2", "tel_drift=30", "fault_event=overtemp", "swap=two words"):
            answer = await send_command(control, bad)
            assert answer["ok"] is False, bad
    finally:
        host.close()
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10.0):
            await proc.wait()
    assert proc.returncode == 0
