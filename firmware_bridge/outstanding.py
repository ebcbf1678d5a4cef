"""Requests waiting for their reply: SEQ numbers, resends on schedule, replies matched by SEQ.

The I/O (writing a line) and the consequence of a request that is never answered (the link is lost)
belong to the caller, passed in as ``send`` and ``on_give_up``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

from firmware_bridge.counters import LinkCounters
from firmware_bridge.errors import LinkError, LinkLostError, RequestRejected
from firmware_bridge.frame import Frame, encode_frame, make_frame
from firmware_bridge.link_logic import RetryAction, RetrySchedule, SeqCounter
from firmware_bridge.messages import Reply

SendLine = Callable[[Frame, bytes], None]


class OutstandingRequests:
    """Sends requests, resends them (same SEQ) until answered, and matches replies to them."""

    def __init__(
        self,
        send: SendLine,
        on_give_up: Callable[[str], None],
        counters: LinkCounters,
        clock: Callable[[], float],
        *,
        reply_timeout_s: float,
        max_retries: int,
    ) -> None:
        self._send = send
        self._on_give_up = on_give_up
        self._counters = counters
        self._clock = clock
        self._reply_timeout_s = reply_timeout_s
        self._max_retries = max_retries
        self._seq = SeqCounter()
        self._pending: dict[int, asyncio.Future[Frame]] = {}

    def next_seq(self) -> int:
        """A SEQ for a frame that expects no tracking (a best-effort write)."""
        return self._seq.next()

    async def exchange(self, verb: str, fields: Mapping[str, str | int | float], *, probe: bool = False) -> Reply:
        """Send a request and wait for its ``OK``; ``ERR`` raises :class:`RequestRejected`; no reply after
        every resend calls ``on_give_up`` and raises :class:`LinkLostError`.

        ``probe``: a question the link asks on its own (sent once, never resent); no answer raises
        :class:`LinkLostError` without calling ``on_give_up``: the loss window judges the silence.
        """
        seq = self._seq.next()
        request = make_frame(seq, verb, fields)
        data = encode_frame(request)
        future: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._pending[seq] = future
        schedule = RetrySchedule(self._reply_timeout_s, 0 if probe else self._max_retries)
        try:
            self._send(request, data)
            schedule.sent(self._clock())
            while True:
                try:
                    async with asyncio.timeout(max(schedule.deadline - self._clock(), 0.0)):
                        frame = await asyncio.shield(future)
                    break
                except TimeoutError:
                    pass
                if future.done():  # answered or ended (a BOOT) in the same loop turn as the timeout
                    frame = future.result()  # raises when it was ended: never resent then
                    break
                action = schedule.action(self._clock())
                if action is RetryAction.RESEND:
                    self._counters.retries += 1
                    self._send(request, data)
                    schedule.sent(self._clock())
                elif action is RetryAction.GIVE_UP:
                    reason = f"{verb} seq={seq}: no reply after {schedule.max_retries} retries"
                    if not probe:
                        self._on_give_up(reason)
                    raise LinkLostError(reason)
        finally:
            self._pending.pop(seq, None)
        if frame.verb == "ERR":
            raise RequestRejected(verb, frame.fields.get("code", "?"), frame.fields.get("msg"))
        return Reply(seq, frame.fields, schedule.attempts)

    def resolve(self, reply: Frame) -> bool:
        """Hand ``reply`` to the request with its SEQ; ``False`` when none waits for it (a late reply)."""
        future = self._pending.get(reply.seq)  # type: ignore[arg-type]
        if future is None or future.done():
            return False
        future.set_result(reply)
        return True

    def fail_all(self, error: LinkError) -> None:
        """End every outstanding request with ``error`` now: none of them is resent."""
        for future in self._pending.values():
            if not future.done():
                future.set_exception(error)
                future.exception()  # retrieved here so an abandoned future never logs
