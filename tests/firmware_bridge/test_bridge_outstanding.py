"""Outstanding requests: a request ended by a controller reset is never resent, even when the reset is
handled in the same event-loop turn as its resend timer fires."""

from __future__ import annotations

import asyncio

import pytest

from firmware_bridge.counters import LinkCounters
from firmware_bridge.errors import ControllerReset
from firmware_bridge.frame import Frame
from firmware_bridge.outstanding import OutstandingRequests

REPLY_TIMEOUT_S = 0.1


async def test_a_request_ended_by_a_boot_is_not_resent_in_the_same_turn() -> None:
    loop = asyncio.get_running_loop()
    sent: list[bytes] = []

    def send(frame: Frame, data: bytes) -> None:
        sent.append(data)

    requests = OutstandingRequests(send, lambda reason: None, LinkCounters(), loop.time,
                                   reply_timeout_s=REPLY_TIMEOUT_S, max_retries=3)
    start = loop.time()
    exchange = asyncio.create_task(requests.exchange("MOTOR", {"rpm": 40}))
    await asyncio.sleep(0)
    assert len(sent) == 1
    # The BOOT line is read just after the resend timer's deadline, before the exchange task runs again.
    loop.call_at(start + REPLY_TIMEOUT_S + 1e-6, requests.fail_all, ControllerReset("controller reset"))
    with pytest.raises(ControllerReset):
        await exchange
    await asyncio.sleep(2 * REPLY_TIMEOUT_S)
    assert sent == [sent[0]], "the old MOTOR must never reach the restarted board"
