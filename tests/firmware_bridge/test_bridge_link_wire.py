"""SerialLink seen from the wire, against a scriptable board on a raw pty.

Retries with the same SEQ, the SEQ wrap, refused handshakes, counting of every malformed line
class, and reconnect back-off: things the faithful simulator cannot stage on demand.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from firmware_bridge.constants import MAX_RETRIES, REPLY_TIMEOUT_MS
from firmware_bridge.crc import crc16_hex
from firmware_bridge.errors import LinkLostError
from firmware_bridge.frame import Frame
from firmware_bridge.link import SerialLink
from firmware_bridge.link_logic import Backoff
from firmware_bridge.messages import LinkState
from tests.firmware_bridge.fake_board import FakeBoard
from tests.firmware_bridge.fb_helpers import LinkFactory, wait_for

SCHEDULING_SLACK_S = 0.02
"""How much earlier than the reply timeout a resend may be seen (both ends share one loop)."""


@pytest.fixture
async def board() -> AsyncIterator[FakeBoard]:
    fake = FakeBoard()
    try:
        yield fake
    finally:
        fake.close()


def crc_line(body: str, ending: bytes = b"\n") -> bytes:
    return f"{body}*{crc16_hex(body.encode())}".encode() + ending


async def test_unanswered_request_is_resent_with_its_seq_3_times_then_the_link_is_lost(
    board: FakeBoard, make_link: LinkFactory
) -> None:
    link = await make_link(board.path, 3, telemetry_period_ms=0)
    assert board.verbs() == ["HELLO", "OUT", "MOTOR", "TEL"]
    assert [r.frame.seq for r in board.received] == [1, 2, 3, 4], "one new SEQ per new request"
    board.mute = True
    start = len(board.received)
    with pytest.raises(LinkLostError):
        await link.request("STATUS")
    sends = [r for r in board.received[start:] if r.frame.verb == "STATUS"]
    assert len(sends) == 1 + MAX_RETRIES
    assert {r.raw for r in sends} == {sends[0].raw} and sends[0].frame.seq == 5, "a retry is the same line"
    for before, after in zip(sends, sends[1:]):
        assert after.at - before.at >= REPLY_TIMEOUT_MS / 1000 - SCHEDULING_SLACK_S
    assert link.counters.retries == MAX_RETRIES and link.counters.link_losses == 1
    assert link.state is not LinkState.UP and "no reply after 3 retries" in link.lost_reason
    assert link.zone_faults() == (True, True, True)
    # On loss the host still tries to leave the board safe: outputs and motor to 0, new SEQs.
    await wait_for(lambda: len(board.received) >= start + len(sends) + 2, what="the zeroing frames")
    after_loss = [r.frame for r in board.received[start + len(sends) :]]
    assert after_loss[:2] == [Frame(6, "OUT", {"d0": "0", "d1": "0", "d2": "0"}), Frame(7, "MOTOR", {"rpm": "0"})]

    board.mute = False
    await link.wait_up(5.0)
    assert link.counters.reconnects == 1 and board.verbs().count("HELLO") == 2


async def test_seq_wraps_from_65535_to_1_on_the_wire(board: FakeBoard, make_link: LinkFactory) -> None:
    link = await make_link(board.path, 3, telemetry_period_ms=0)
    link._requests._seq.last = 65533  # noqa: SLF001 - 65k real requests would take the whole test budget
    for _ in range(3):
        assert (await link.request("STATUS")).fields["fault"] == "none"
    assert [r.frame.seq for r in board.received[-3:]] == [65534, 65535, 1]


@pytest.mark.parametrize(
    ("hello", "reason"),
    [({"proto": "2"}, "proto 2"), ({"zones": "2"}, "2 zones, 3 configured"), ({"zones": "9"}, "9 zones")],
)
async def test_handshake_is_refused_and_nothing_else_is_sent(
    board: FakeBoard, make_link: LinkFactory, hello: dict[str, str], reason: str
) -> None:
    board.hello.update(hello)
    link = await make_link(board.path, 3, wait=False, backoff=Backoff(min_s=0.05, max_s=0.2))
    await wait_for(lambda: board.verbs().count("HELLO") >= 2, what="a second attempt after back-off")
    assert reason in link.lost_reason
    assert link.state is not LinkState.UP and link.hello is None
    assert set(board.verbs()) == {"HELLO"}, "no OUT, MOTOR or TEL to a board the host refused"


async def test_every_malformed_line_class_is_discarded_and_counted(board: FakeBoard, make_link: LinkFactory) -> None:
    link = await make_link(board.path, 1, telemetry_period_ms=0)
    assert link.counters.crc_errors == 0 and link.counters.framing_errors == 0
    frames_before = link.counters.frames_rx
    garbage = [
        b"1 OK*0000\n",  # bad CRC
        b"! TEL " + b"x" * 250 + b"\n",  # too long
        crc_line("! FAULT code=sensor zone=\x01"),  # bad character
        b"! BOOT fw=1\n",  # missing *
        crc_line("! REBOOT"),  # unknown verb
        crc_line("! FAULT code=sensor code=estop"),  # repeated key
        crc_line("! FAULT  code=sensor"),  # bad syntax
        crc_line("! FAULT code=sensor zone=-", b"\r\r\n"),  # a CR not right before the LF
    ]
    board.write(b"".join(garbage))
    # A CR right before the LF is ignored: this TEL counts.
    board.write(crc_line("! TEL n=7 up=5 t0=20.5 d0=0 rpm=0 bar=0 fault=none", b"\r\n"))
    await wait_for(lambda: link.counters.telemetry == 1, what="the CR-LF telemetry frame")
    assert link.counters.crc_errors == 1
    assert link.counters.framing_errors == len(garbage) - 1
    assert link.counters.frames_rx == frames_before + 1
    assert link.telemetry is not None and link.telemetry.temps_c == (20.5,)
    assert link.state is LinkState.UP, "garbage alone never breaks the link"
    assert (await link.request("PING")).fields == {"up": "1"}


async def test_missing_port_is_retried_with_back_off_not_in_a_loop(make_link: LinkFactory, tmp_path: Path) -> None:
    path = f"{tmp_path}/ttyABSENT"
    link = await make_link(path, 1, wait=False, backoff=Backoff(min_s=0.05, max_s=0.4))
    await wait_for(lambda: link.counters.open_failures >= 4, what="four attempts")
    # 0.05 + 0.1 + 0.2 s of back-off before the fourth attempt; a spin would make thousands.
    failures_after_4 = link.counters.open_failures
    board = FakeBoard()
    try:
        os.symlink(board.path, path)
        await link.wait_up(5.0)
    finally:
        board.close()
    assert link.counters.open_failures - failures_after_4 <= 2, "next attempts wait 0.4 s each"
    assert link.counters.reconnects == 0, "first connection, not a reconnect"


async def test_telemetry_gaps_are_counted_across_the_wrap(board: FakeBoard, make_link: LinkFactory) -> None:
    link = await make_link(board.path, 1, telemetry_period_ms=0)
    for n in (65533, 65534, 65535, 1, 2, 5):  # 0, then 3 and 4 missing
        board.write(crc_line(f"! TEL n={n} up=5 t0=20.5 d0=0 rpm=0 bar=0 fault=none"))
    await wait_for(lambda: link.counters.telemetry == 6, what="six TEL frames")
    assert link.counters.gaps == 3
    assert link.telemetry is not None and link.telemetry.n == 5


@pytest.mark.parametrize(("zones", "tel_ms"), [(0, 100), (9, 100), (3, 19), (3, 5001), (3, -1)])
def test_link_refuses_settings_the_protocol_does_not_allow(zones: int, tel_ms: int) -> None:
    with pytest.raises(ValueError):
        SerialLink("/dev/null", zones, telemetry_period_ms=tel_ms)
    SerialLink("/dev/null", 8, telemetry_period_ms=0)  # telemetry off is allowed
