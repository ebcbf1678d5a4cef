"""The I/O shell of one printer link: one aiomqtt connection, reports in, commands out.

Connects with TLS (see `trust`), subscribes to the report topic only, asks for a full report on every
(re)connect and after a silence (with back-off, see `state`), and reconnects with jittered back-off. A refused access code or a
refused certificate stops the link (no retry storm) with a plain status; a restart of the gateway, or a
fixed configuration, starts it again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import ssl
from collections.abc import Awaitable, Callable
from itertools import count

import aiomqtt
from paho.mqtt.reasoncodes import ReasonCode

from gateway.printers import commands, const
from gateway.printers.config import PrinterConfig
from gateway.printers.samples import Throttle, samples_of
from gateway.printers.state import CommandRecord, LinkState, PrinterState
from gateway.telemetry.sink import TelemetrySink

log = logging.getLogger(__name__)

# CONNACK return codes of MQTT 3.1.1 (the protocol of the printer link) that mean the access code was
# refused, with their names; the MQTT client library may hand them over as the MQTT 5 reason codes
# 134/135, which are mapped back: the link speaks 3.1.1 and its messages name 3.1.1 codes.
CONNACK_311_REFUSED = {4: "bad user name or password", 5: "not authorised"}
MQTT5_TO_311 = {134: 4, 135: 5}


_ERRNO_PREFIX = re.compile(r"\[Errno -?\d+\]\s*")


def plain_error(exc: BaseException) -> str:
    """An error in words for a person: without Python's ``[Errno N]`` prefix, never empty."""
    text = _ERRNO_PREFIX.sub("", str(exc)).strip()
    return (text[:1].lower() + text[1:]) if text else type(exc).__name__


class PrinterOffline(Exception):
    """A command for a printer that is not connected and reporting."""


def reconnect_delay_s(failures: int, *, initial_s: float, max_s: float, rng: Callable[[], float]) -> float:
    base = min(max_s, initial_s * 2 ** max(0, failures - 1))
    return base * (1 + const.RECONNECT_JITTER_FRACTION * (2 * rng() - 1))


def connack_311(exc: aiomqtt.MqttCodeError) -> int | None:
    """The MQTT 3.1.1 CONNACK return code of a refused connection (``None``: not a CONNACK code)."""
    rc = exc.rc
    value = int(rc.value) if isinstance(rc, ReasonCode) else rc if isinstance(rc, int) else None
    return MQTT5_TO_311.get(value, value) if value is not None else None


class PrinterDriver:
    """A supervised part: keeps one printer's MQTT link up and its state fresh."""

    def __init__(
        self,
        printer: PrinterConfig,
        state: PrinterState,
        *,
        tls_context: Callable[[Callable[[str], None]], ssl.SSLContext],
        access_code: str,
        sink: TelemetrySink,
        reconnect_initial_s: float = const.RECONNECT_INITIAL_S,
        reconnect_max_s: float = const.RECONNECT_MAX_S,
        rng: Callable[[], float] = random.random,
        client_id: str = "edge-gateway",
        wait_before_connect: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        """``wait_before_connect``: awaited once before the first connection (the demo's broker coming up)."""
        self.name = f"printer:{printer.serial}"
        self.printer = printer
        self.state = state
        self._tls_context = tls_context
        self._access_code = access_code
        self._sink = sink
        self._reconnect_initial_s = reconnect_initial_s
        self._reconnect_max_s = reconnect_max_s
        self._rng = rng
        self._client_id = f"{client_id}-{printer.serial}"
        self._client: aiomqtt.Client | None = None
        self._sequence = count(const.SEQUENCE_ID_BASE + int(rng() * const.SEQUENCE_ID_SPREAD))
        self._throttle = Throttle(const.TEMPERATURE_SAMPLE_INTERVAL_S)
        self.attempts = 0
        self._tls_refusal: str | None = None
        self._wait_before_connect = wait_before_connect

    def problem(self) -> str | None:
        """Degraded while the link is stopped (refused certificate or access code)."""
        return self.state.problem

    def next_sequence_id(self) -> str:
        return str(next(self._sequence))

    async def run(self) -> None:
        if self._wait_before_connect is not None:
            await self._wait_before_connect()
        failures = 0
        while True:
            self._tls_refusal = None
            self.attempts += 1
            started = self.state.monotonic()
            try:
                await self._session()
                message = "connection closed"
            except aiomqtt.MqttCodeError as exc:
                code = connack_311(exc)
                if code in CONNACK_311_REFUSED:
                    await self._stop(LinkState.AUTH_FAILED,
                                     f"printer refused the access code (MQTT 3.1.1 CONNACK {code}: "
                                     f"{CONNACK_311_REFUSED[code]}); not retrying; set the code with "
                                     f"`edge-gateway printers set-code {self.printer.serial}` and restart")
                message = f"MQTT error: {plain_error(exc)}"
            except aiomqtt.MqttError as exc:
                if self._tls_refusal is not None:
                    await self._stop(LinkState.TLS_REFUSED,
                                     f"printer certificate refused: {self._tls_refusal}; not retrying; "
                                     f"check the printer or re-pin it with `edge-gateway printers pin "
                                     f"{self.printer.serial}`")
                message = f"cannot connect to {self.printer.host}:{self.printer.port}: {plain_error(exc)}"
            finally:
                self._client = None
            if self.state.monotonic() - started >= const.STABLE_SESSION_S:
                failures = 0  # a link that held for a while starts again from the first delay
            failures += 1
            delay = reconnect_delay_s(failures, initial_s=self._reconnect_initial_s,
                                      max_s=self._reconnect_max_s, rng=self._rng)
            self.state.disconnected(LinkState.OFFLINE, f"{message}; reconnecting in {delay:.1f} s")
            self._emit(force=True)
            log.warning("printer %s: %s; reconnecting in %.1f s", self.printer.serial, message, delay)
            await asyncio.gather(asyncio.sleep(delay), self._flush_pending())

    async def _stop(self, link: LinkState, message: str) -> None:
        self.state.disconnected(link, message)
        self._emit(force=True)
        log.error("printer %s: %s", self.printer.serial, message)
        await self._flush_pending()
        await asyncio.Event().wait()  # stays stopped until the gateway is restarted

    async def _flush_pending(self) -> None:
        """Record a change held back by the sample interval once the interval has passed."""
        if self._throttle.pending:
            await asyncio.sleep(self._throttle.wait_s(self.state.monotonic()))
            self._emit()

    def _refused(self, reason: str) -> None:
        self._tls_refusal = reason

    async def _session(self) -> None:
        async with aiomqtt.Client(
            self.printer.host, self.printer.port, username=const.MQTT_USERNAME, password=self._access_code,
            identifier=self._client_id, protocol=aiomqtt.ProtocolVersion.V311, keepalive=const.KEEPALIVE_S,
            timeout=const.CONNECT_TIMEOUT_S, tls_context=self._tls_context(self._refused),
            tls_insecure=True,  # host names are not used: the context checks CN = serial or the pin itself
            max_queued_incoming_messages=const.MAX_INBOX_MESSAGES, clean_session=True,
        ) as client:
            await client.subscribe(const.report_topic(self.printer.serial), qos=0)
            self._client = client
            self.state.connected()
            log.info("printer %s: connected to %s:%d", self.printer.serial, self.printer.host, self.printer.port)
            await self._ask_full_report(client)
            watcher = asyncio.create_task(self._watch(client), name=f"{self.name}:watch")
            try:
                async for message in client.messages:
                    self._on_payload(message.payload)
            finally:
                watcher.cancel()

    def _on_payload(self, payload: object) -> None:
        if not isinstance(payload, (bytes, bytearray)):
            payload = str(payload).encode()
        if self.state.feed(bytes(payload)):
            self._emit()
        else:  # a flood of these is written once per interval with a count (gateway.logs.RepeatFilter)
            log.warning("printer %s: report dropped (%s)", self.printer.serial, self.state.last_drop)

    def _emit(self, *, force: bool = False) -> None:
        if not self._throttle.due(self.state.monotonic(), force=force):
            return
        for sample in samples_of(self.printer.serial, self.state.reading, self.state.online, self.state.clock()):
            self._sink.put(sample)

    async def _watch(self, client: aiomqtt.Client) -> None:
        while True:
            await asyncio.sleep(const.WATCH_INTERVAL_S)
            was_offline = self.state.link is LinkState.OFFLINE
            ask = self.state.check()
            if self._throttle.pending:
                self._emit()
            if self.state.link is LinkState.OFFLINE and not was_offline:
                log.warning("printer %s: %s", self.printer.serial, self.state.link_message)
                self._emit(force=True)
            if ask:
                await self._ask_full_report(client)

    async def _ask_full_report(self, client: aiomqtt.Client) -> None:
        built = commands.pushall(self.next_sequence_id())
        self.state.asked()
        await self._publish(client, built.payload)

    async def _publish(self, client: aiomqtt.Client, payload: dict[str, object]) -> None:
        await client.publish(const.request_topic(self.printer.serial), json.dumps(payload, separators=(",", ":")))

    async def send(self, built: commands.BuiltCommand) -> CommandRecord:
        """Publish a built command; raises PrinterOffline unless connected and reporting."""
        client = self._client
        if client is None or not self.state.online:
            raise PrinterOffline(f"printer {self.printer.serial} is {self.state.link} ({self.state.reason}): "
                                 f"{self.state.link_message}")
        section, printer_command = commands.reply_key(built.payload) or ("", "")
        record = CommandRecord(sequence_id=built.sequence_id, command=str(built.name), section=section,
                               printer_command=printer_command, sent_at=self.state.clock(), applied=built.applied)
        self.state.sent(record)
        try:
            await self._publish(client, built.payload)
        except aiomqtt.MqttError as exc:
            self.state.commands.remove(record)
            raise PrinterOffline(f"printer {self.printer.serial}: command not sent ({plain_error(exc)})") from None
        return record
