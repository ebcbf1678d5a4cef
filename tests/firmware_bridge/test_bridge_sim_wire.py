"""The simulator rejects what a real board would, seen from the wire."""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING

import pytest
import serial

from tests.firmware_bridge.fb_helpers import wait_for
from firmware_bridge.codec import FrameDecoder
from firmware_bridge.crc import crc16_hex
from firmware_bridge.errors import RequestRejected
from firmware_bridge.frame import HOST_RX_VERBS, Frame

if TYPE_CHECKING:
    from tests.firmware_bridge.fb_helpers import LinkFactory, SimFactory


@pytest.mark.parametrize(
    ("verb", "fields", "code"),
    [
        ("OUT", {"d0": 1001}, "range"),
        ("OUT", {"d3": 10}, "zone"),
        ("OUT", {"q": 10}, "unknown"),
        ("OUT", {"d0": "warm"}, "syntax"),
        ("MOTOR", {"rpm": 250.5}, "range"),
        ("TEL", {"ms": 10}, "range"),
        ("HELLO", {"proto": 2}, "range"),
    ],
)
async def test_out_of_range_requests_get_err(
    make_sim: SimFactory, make_link: LinkFactory, verb: str, fields: dict[str, object], code: str
) -> None:
    sim = await make_sim(zones=3)
    link = await make_link(sim.port_path, 3)
    with pytest.raises(RequestRejected) as rejected:
        await link.request(verb, **fields)  # type: ignore[arg-type]
    assert rejected.value.code == code
    assert sim.controller.counters.replies_err[code] == 1


def raw_line(body: str) -> bytes:
    return f"{body}*{crc16_hex(body.encode())}\n".encode()


async def test_garbage_unknown_verbs_and_bad_crc_get_no_reply(make_sim: SimFactory) -> None:
    sim = await make_sim()
    port = serial.Serial(sim.port_path, timeout=0)
    try:
        fd = port.fileno()
        os.write(fd, raw_line("5 JUMP") + b"6 PING*0000\n" + b"x" * 300 + b"\n" + raw_line("7 PING"))
        decoder = FrameDecoder(HOST_RX_VERBS)
        replies: list[Frame | object] = []
        loop = asyncio.get_running_loop()
        loop.add_reader(fd, lambda: replies.extend(decoder.feed(os.read(fd, 4096))))
        try:
            await wait_for(lambda: any(isinstance(r, Frame) and r.seq == 7 for r in replies), what="reply to 7")
        finally:
            loop.remove_reader(fd)
        assert [r.seq for r in replies if isinstance(r, Frame) and r.seq is not None] == [7]
        errors = sim.snapshot()["decoder"]
        assert (errors["unknown_verb"], errors["bad_crc"], errors["too_long"]) == (1, 1, 1)
    finally:
        port.close()
