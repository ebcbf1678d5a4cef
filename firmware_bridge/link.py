"""The host side of the serial link: handshake, requests with retries, telemetry, reconnects.

Pure rules live in :mod:`firmware_bridge.link_logic`; this module wires them to the port and the
asyncio loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable

from firmware_bridge.codec import FrameDecoder
from firmware_bridge.constants import (
    DEFAULT_TEL_PERIOD_MS,
    LINK_CHECK_MAX_INTERVAL_MS,
    LINK_CHECK_MIN_INTERVAL_MS,
    RESTART_PROBE_MIN_MS,
    RESTART_PROBE_PERIODS,
    MAX_RETRIES,
    MAX_ZONES,
    PROTO_VERSION,
    REPLY_TIMEOUT_MS,
    TEL_PERIOD_MAX_MS,
    TEL_PERIOD_MIN_MS,
)
from firmware_bridge.counters import LinkCounters
from firmware_bridge.errors import (
    ControllerReset,
    FrameError,
    HandshakeRefused,
    LinkDownError,
    LinkError,
    LinkLostError,
    ProtocolViolation,
)
from firmware_bridge.events import EventSubscription, LinkEvent
from firmware_bridge.frame import (
    HOST_RX_VERBS,
    REPLY_VERBS,
    Frame,
    encode_frame,
    make_frame,
)
from firmware_bridge.link_logic import (
    Backoff,
    GapCounter,
    KeepaliveTimer,
    LinkWatch,
    LossLimits,
    uptime_fell_behind,
    uptime_went_back,
    zone_faults,
)
from firmware_bridge.messages import (
    ControllerReplaced,
    HelloInfo,
    LinkState,
    LinkStateChange,
    Reply,
    parse_hello,
)
from firmware_bridge.outstanding import OutstandingRequests
from firmware_bridge.telemetry import (
    BootEvent,
    Telemetry,
    parse_boot_event,
    parse_fault_event,
    parse_telemetry,
)
from firmware_bridge.transport import SerialTransport

TrafficTap = Callable[[str, "Frame | FrameError"], None]
"""Optional observer of every frame: ``("tx"|"rx", frame_or_error)`` (used by the monitor)."""
EventListener = Callable[[LinkEvent], None]
"""Called synchronously with every event as it happens (before any other frame is handled)."""


class SerialLink:
    """A supervised link to one extruder controller.

    ``start()`` connects in the background and keeps reconnecting (with back-off) until ``stop()``.
    Once ``state`` is ``UP``, ``request()`` sends a request and returns its ``OK`` reply. Telemetry,
    fault/boot events and state changes are delivered to :meth:`subscribe` iterators; the latest
    telemetry is also in ``telemetry``.

    Loss (spec, "Duties of the host"): no valid ``TEL`` for the loss window (``loss``: 1000 ms or 5
    telemetry periods, whichever is longer), requests sent for that long with none answered, or one
    request unanswered after its resends. Until then nothing is declared; the caller holds its outputs.

    Heater safety: every handshake starts with all outputs and the motor set to 0; when the link is
    lost it writes the same zeroing frames, best effort, before closing the port; ``stop()`` zeroes
    them and turns telemetry off. While the link is not up :meth:`zone_faults` reports every zone
    faulted. A ``! BOOT`` (or a ``TEL`` whose uptime went back) ends every outstanding request at once,
    so no resend reaches the restarted board, and triggers a fresh ``HELLO`` on the same port; a
    ``HELLO`` reply with another board ``id`` emits :class:`ControllerReplaced`. A vanished port is
    reopened by path with back-off.
    """

    def __init__(
        self,
        port_path: str,
        expected_zones: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        telemetry_period_ms: int = DEFAULT_TEL_PERIOD_MS,
        reply_timeout_ms: int = REPLY_TIMEOUT_MS,
        max_retries: int = MAX_RETRIES,
        backoff: Backoff | None = None,
        loss: LossLimits | None = None,
        on_traffic: TrafficTap | None = None,
    ) -> None:
        """Raises ``ValueError`` for a zone count or telemetry period the protocol does not allow."""
        if not 1 <= expected_zones <= MAX_ZONES:
            raise ValueError(f"expected_zones must be 1..{MAX_ZONES}, not {expected_zones}")
        if telemetry_period_ms != 0 and not TEL_PERIOD_MIN_MS <= telemetry_period_ms <= TEL_PERIOD_MAX_MS:
            raise ValueError(
                f"telemetry_period_ms must be 0 or {TEL_PERIOD_MIN_MS}..{TEL_PERIOD_MAX_MS}, not {telemetry_period_ms}"
            )
        self.port_path = port_path
        self.expected_zones = expected_zones
        self.telemetry_period_ms = telemetry_period_ms
        self.counters = LinkCounters()
        self.hello: HelloInfo | None = None
        """The last accepted ``HELLO`` reply."""
        self.telemetry: Telemetry | None = None
        """The latest telemetry of the current session (``None`` while not up)."""
        self.lost_reason = ""
        """Why the link was last lost."""
        self.open_error = ""
        """Why the last attempt to open the port failed."""
        self._clock = clock
        self._backoff = backoff or Backoff()
        self.loss = loss or LossLimits()
        self._on_traffic = on_traffic
        self._listeners: list[EventListener] = []
        self._board_id: str | None = None
        self._telemetry_was_on = False
        self._restart_known = False
        """A restart was reported (BOOT) since the last handshake: the next HELLO's tel=0 is no news."""
        self._last_up_ms: int | None = None
        """The board's uptime in the last TEL of this session."""
        self._probed = False
        self._probe_task: asyncio.Task[None] | None = None
        """The board ``id`` of the last accepted ``HELLO`` (kept across sessions to notice a swap)."""
        self._state = LinkState.DISCONNECTED
        self._decoder = FrameDecoder(HOST_RX_VERBS)
        self._gaps = GapCounter()
        self._watch = LinkWatch()
        self._keepalive = KeepaliveTimer()
        self._requests = OutstandingRequests(self._send, self._declare_lost, self.counters, clock,
                                             reply_timeout_s=reply_timeout_ms / 1000, max_retries=max_retries)
        self._subscribers: list[EventSubscription] = []
        self._transport: SerialTransport | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._ping_task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._session_over = True
        self._session_was_up = False
        self._boot_seen = False
        self._ever_up = False
        self._up_event = asyncio.Event()

    # --- public API ------------------------------------------------------------------------
    @property
    def state(self) -> LinkState:
        """Current link state."""
        return self._state

    def zone_faults(self) -> tuple[bool, ...]:
        """Per configured zone: must the host treat it as faulted (always all while not up)."""
        return zone_faults(self._state, self.telemetry, self.expected_zones)

    def add_listener(self, listener: EventListener) -> None:
        """Call ``listener`` synchronously with every event (the control loop latches faults this way,
        without waiting for a period or a queue)."""
        self._listeners.append(listener)

    def subscribe(self) -> EventSubscription:
        """A new iterator over telemetry, fault/boot events and state changes."""
        sub = EventSubscription(self._event_dropped)
        self._subscribers.append(sub)
        return sub

    async def start(self) -> None:
        """Start connecting in the background (returns at once; see :meth:`wait_up`)."""
        if self._supervisor is None:
            self._supervisor = asyncio.create_task(self._supervise(), name=f"serial-link {self.port_path}")

    async def wait_up(self, timeout_s: float) -> None:
        """Wait until the link is up; raises ``TimeoutError``."""
        async with asyncio.timeout(timeout_s):
            await self._up_event.wait()

    async def request(self, verb: str, **fields: str | int | float) -> Reply:
        """Send a request and return its ``OK`` reply.

        Raises :class:`LinkDownError` when not up, :class:`RequestRejected` on ``ERR`` and
        :class:`LinkLostError` when the retries run out (the link is then lost and reconnects).
        """
        if self._state is not LinkState.UP:
            raise LinkDownError(f"link is {self._state}")
        return await self._requests.exchange(verb, fields)

    async def stop(self) -> None:
        """Turn heaters and motor off (best effort, when up), then close the port for good."""
        if self._state is LinkState.UP and self.hello is not None:
            for verb, fields in self._safe_off_requests() + [("TEL", {"ms": 0})]:
                with contextlib.suppress(LinkError):
                    await self._requests.exchange(verb, fields)
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
            self._supervisor = None
        self._end_session()
        self._close_transport()
        self._set_state(LinkState.DISCONNECTED, "stopped")
        for sub in self._subscribers:
            sub.close()
        self._subscribers.clear()

    # --- supervision -----------------------------------------------------------------------
    async def _supervise(self) -> None:
        try:
            while True:
                try:
                    self._transport = SerialTransport.open(self.port_path, self._on_data, self._on_port_closed)
                except OSError as exc:
                    self.open_error = str(exc)
                    self.counters.open_failures += 1
                    await asyncio.sleep(self._backoff.next_delay())
                    continue
                self._decoder.reset()
                await self._run_session()
                self._close_transport()
                await asyncio.sleep(self._backoff.next_delay())
        finally:
            self._end_session()

    async def _run_session(self) -> None:
        self._session_over = False
        self._session_was_up = False
        reopened = self._ever_up
        while not self._session_over:
            self._boot_seen = False
            try:
                await self._handshake(reopened)
            except ControllerReset:
                continue  # the board restarted during the handshake: start it again
            except LinkError as exc:
                self._declare_lost(f"handshake failed: {exc}")
                return
            reopened = False
            await self._monitor()

    async def _handshake(self, reopened: bool) -> None:
        self._set_state(LinkState.HANDSHAKING, "controller reset" if self._boot_seen else "port open")
        reply = await self._requests.exchange("HELLO", {"proto": PROTO_VERSION})
        hello = parse_hello(reply.fields, self.expected_zones)
        problem = self.loss.heartbeat_problem(self.telemetry_period_ms, hello.hb_ms)
        if problem is not None:
            raise HandshakeRefused(problem)
        self.hello = hello
        if self._board_id is not None and hello.board_id != self._board_id:
            self.counters.board_swaps += 1
            self._emit(ControllerReplaced(self._board_id, hello.board_id, self._clock()))
        elif self._board_id is not None and self._telemetry_was_on and hello.tel_ms == 0 and not self._restart_known:
            # The same board, but it forgot the telemetry we set: it restarted while we did not hear its
            # BOOT (lost on the line, or while the port was closed).
            self._restart_inferred(f"telemetry off at reconnect (tel=0, {self.telemetry_period_ms} ms set)")
        self._board_id = hello.board_id
        self._restart_known = False
        self._keepalive.configure(hello.hb_ms, self._clock())
        # Start from a known, safe board: whatever a previous host (or session) left on goes off.
        for verb, fields in self._safe_off_requests():
            await self._requests.exchange(verb, fields)
        await self._requests.exchange("TEL", {"ms": self.telemetry_period_ms})
        self._gaps.restart()
        self._watch.arm(self.loss.window_ms(self.telemetry_period_ms), self.telemetry_period_ms > 0, self._clock())
        self._telemetry_was_on = self.telemetry_period_ms > 0
        self._last_up_ms = None
        self.counters.handshakes += 1
        if reopened:
            self.counters.reconnects += 1
        self._ever_up = self._session_was_up = True
        self._backoff.reset()
        self._set_state(LinkState.UP, f"handshake done (fw {self.hello.fw}, {self.hello.zones} zones)")

    async def _monitor(self) -> None:
        """Watch telemetry and keep-alive until the session ends or the controller resets."""
        while not self._session_over and not self._boot_seen:
            now = self._clock()
            reason = self._watch.expired(now)
            if reason is not None:
                self._declare_lost(reason)
                return
            if self._keepalive.due(now) and (self._ping_task is None or self._ping_task.done()):
                self._ping_task = asyncio.create_task(self._ping())
            if self._probe_due(now):
                self._probe_task = asyncio.create_task(self._probe_uptime())
            next_ping = self._keepalive.last_tx + self._keepalive.interval_s / 2
            delay = min(self._watch.deadline, next_ping, self._probe_at()) - now
            delay = min(max(delay, LINK_CHECK_MIN_INTERVAL_MS / 1000), LINK_CHECK_MAX_INTERVAL_MS / 1000)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()

    def _probe_at(self) -> float:
        """When to ask the board its uptime: telemetry missing for a few periods (a restarted board whose
        BOOT was lost has telemetry off, so its TEL can never tell). Once per gap in the telemetry."""
        period_s = self.telemetry_period_ms / 1000
        if period_s <= 0 or self._last_up_ms is None or self._probed:
            return math.inf
        return self._watch.last_tel + max(RESTART_PROBE_PERIODS * period_s, RESTART_PROBE_MIN_MS / 1000)

    def _probe_due(self, now: float) -> bool:
        return now >= self._probe_at()

    async def _probe_uptime(self) -> None:
        self._probed = True
        last_up, last_at = self._last_up_ms, self._watch.last_tel
        with contextlib.suppress(LinkError):
            reply = await self._requests.exchange("STATUS", {}, probe=True)
            up = reply.fields.get("up", "")
            elapsed_ms = (self._clock() - last_at) * 1000
            if up.isdigit() and last_up is not None and uptime_fell_behind(last_up, elapsed_ms, int(up)):
                self._restart_inferred(f"uptime {up} ms, {last_up} ms {elapsed_ms:.0f} ms earlier")

    async def _ping(self) -> None:
        with contextlib.suppress(LinkError):
            await self._requests.exchange("PING", {})

    # --- requests --------------------------------------------------------------------------
    def _send(self, frame: Frame, data: bytes) -> None:
        now = self._clock()
        self._keepalive.sent(now)
        self._watch.request_sent(now)
        if self._transport is not None and self._transport.write(data):
            self.counters.frames_tx += 1
            if self._on_traffic is not None:
                self._on_traffic("tx", frame)
        else:
            self.counters.tx_dropped += 1

    def _safe_off_requests(self) -> list[tuple[str, dict[str, str | int | float]]]:
        zones = self.hello.zones if self.hello else self.expected_zones
        return [("OUT", {f"d{i}": 0 for i in range(zones)}), ("MOTOR", {"rpm": 0})]

    # --- incoming --------------------------------------------------------------------------
    def _on_data(self, data: bytes) -> None:
        now = self._clock()
        for item in self._decoder.feed(data):
            if self._on_traffic is not None:
                self._on_traffic("rx", item)
            if isinstance(item, FrameError):
                continue
            self.counters.frames_rx += 1
            if item.seq is None:
                self._on_unsolicited(item, now)
            elif item.verb in REPLY_VERBS:
                self._watch.replied()
                if not self._requests.resolve(item):
                    self.counters.stale_replies += 1
            else:
                self.counters.protocol_errors += 1
        self.counters.crc_errors = self._decoder.crc_errors
        self.counters.framing_errors = self._decoder.framing_errors

    def _on_unsolicited(self, frame: Frame, now: float) -> None:
        try:
            if frame.verb == "TEL":
                tel = parse_telemetry(frame, now)
                self.counters.telemetry += 1
                if self._state is LinkState.UP and tel.zones < self.expected_zones:
                    raise ProtocolViolation(f"TEL with {tel.zones} zones, {self.expected_zones} configured")
                last_up = self._last_up_ms
                if self._state is LinkState.UP and last_up is not None and uptime_went_back(last_up, tel.up_ms):
                    self._restart_inferred(f"uptime {last_up} -> {tel.up_ms} ms in TEL")
                    return
                self._last_up_ms, self._probed = tel.up_ms, False
                self._watch.telemetry(now)
                self.counters.gaps += self._gaps.observe(tel.n)
                if self._state is LinkState.UP:
                    self.telemetry = tel
                self._emit(tel)
            elif frame.verb == "FAULT":
                self.counters.fault_events += 1
                event = parse_fault_event(frame, self.hello.zones if self.hello else None, now)
                if event.problem is not None:
                    self.counters.protocol_errors += 1
                self._emit(event)
            elif frame.verb == "BOOT":
                event = parse_boot_event(frame, now)
                self.counters.boots += 1
                self._emit(event)
                self._on_boot()
            else:
                self.counters.protocol_errors += 1
        except ProtocolViolation:
            self.counters.protocol_errors += 1

    def _restart_inferred(self, how: str) -> None:
        """The board restarted and its BOOT was not heard: the same as a BOOT."""
        self.counters.boots += 1
        self.counters.inferred_boots += 1
        self._emit(BootEvent(f"unknown (restart inferred: {how})", self._clock()))
        if self._state is LinkState.UP:
            self._on_boot()

    def _on_boot(self) -> None:
        """The controller reset: outputs are 0, telemetry is off; handshake again on this port.

        Every outstanding request ends now: a resend (same SEQ) of an ``OUT`` meant for the old session
        must never reach the restarted board.
        """
        self._boot_seen = self._restart_known = True
        self._watch.disarm()
        self._gaps.restart()
        self.telemetry = None
        self._requests.fail_all(ControllerReset("controller reset"))
        if self._state is LinkState.UP:
            self._set_state(LinkState.HANDSHAKING, "controller reset (BOOT)")
        self._wake.set()

    def _on_port_closed(self, reason: str) -> None:
        self._transport = None
        self._declare_lost(reason)

    # --- state -----------------------------------------------------------------------------
    def _declare_lost(self, reason: str) -> None:
        if self._session_over:
            return
        if self._transport is not None and self.hello is not None:
            for verb, fields in self._safe_off_requests():
                frame = make_frame(self._requests.next_seq(), verb, fields)
                self._send(frame, encode_frame(frame))
        if self._session_was_up:
            self.counters.link_losses += 1
        self.lost_reason = reason
        self._end_session()
        self._set_state(LinkState.LOST if self._ever_up else LinkState.DISCONNECTED, reason)

    def _end_session(self) -> None:
        self._session_over = True
        self._watch.disarm()
        self.telemetry = None
        self._requests.fail_all(LinkLostError("link lost"))
        for task in (self._ping_task, self._probe_task):
            if task is not None:
                task.cancel()
        self._ping_task = self._probe_task = None
        self._wake.set()

    def _close_transport(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def _set_state(self, new: LinkState, reason: str) -> None:
        old, self._state = self._state, new
        if new is LinkState.UP:
            self._up_event.set()
        else:
            self._up_event.clear()
        if old is not new:
            self._emit(LinkStateChange(old, new, reason, self._clock()))

    def _emit(self, event: LinkEvent) -> None:
        for listener in self._listeners:
            listener(event)
        for sub in self._subscribers:
            sub.put(event)

    def _event_dropped(self) -> None:
        self.counters.events_dropped += 1
