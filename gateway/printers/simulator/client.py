"""The simulated printer's MQTT shell: pushes reports, answers requests, misbehaves on demand, reconnects.

From public notes (see model.py and answers.py for the rest): the printer subscribes to
`device/SERIAL/request` and publishes on `device/SERIAL/report` (OpenBambuAPI mqtt.md "Topics"); the answer
to `pushing.pushall` is a push of the full status with the printer's own next sequence id, never the
request's (Rdiger-36/bambulab-ams-spoolman-filamentstatus README capture: 40941, 40942 deltas, 40943 full).
A P1-style printer pushes no full report of its own when it (re)connects: a client that connects learns the
full state only by asking (BambuTools/bambulabs_api issue #92: right after connecting most values stay
unknown until they change). OpenBambuAPI warns that pushall loads a P1P (no more than every 5 minutes as a
rule of thumb): the misbehaviours below model a printer that answers late, twice or not at all.

Misbehaviours (attributes, switchable at run time):
- `silent`: stays connected, publishes nothing, answers nothing (requests are still counted);
- `slow_pushall_s`: answers a pushall after this many seconds (0: at once);
- `double_pushall`: answers a pushall with two full reports (two sequence ids);
- `ignore_pushall`: never answers a pushall.
`behave()` switches them all off. `disconnect(for_s)` drops the broker connection for a while.

Reconnects by itself: any broker/TLS/socket failure ends the session; the next attempt follows after
`RECONNECT_S` (so a restarted broker sees the printer again within about that long). `sessions` counts
connections, `connected` is set while one is up, `requests` (evidence.RequestLog) holds what arrived.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt

from gateway.printers.const import report_topic, request_topic
from gateway.printers.simulator.answers import answer, is_pushall, parse_requests
from gateway.printers.simulator.evidence import RequestLog
from gateway.printers.simulator.model import Family, SimulatedPrinter

log = logging.getLogger(__name__)

RECONNECT_S = 0.5
KEEPALIVE_S = 10
DOUBLE_PUSHALL_COPIES = 2
SESSION_POLL_S = 0.02


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str
    password: str
    ca_file: Path | None = None  # None: loopback broker, certificate not verified

    def tls_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        if self.ca_file is not None:
            context.load_verify_locations(cafile=str(self.ca_file))
        else:
            context.verify_mode = ssl.CERT_NONE
        return context


class PrinterSimulator:
    """One simulated printer connected to a broker. `run()` until cancelled; the attributes inject faults."""

    def __init__(self, model: SimulatedPrinter, broker: BrokerAddress, *, rate_hz: float = 2.0) -> None:
        self.model = model
        self.broker = broker
        self.interval_s = 1.0 / rate_hz
        self.silent = False
        self.slow_pushall_s = 0.0
        self.double_pushall = False
        self.ignore_pushall = False
        self.requests = RequestLog()
        self.sessions = 0
        self.connected = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._drop = asyncio.Event()
        self._pause_after_drop_s = 0.0
        self._pending: set[asyncio.Task[None]] = set()

    @property
    def serial(self) -> str:
        return self.model.serial

    @property
    def family(self) -> Family:
        return self.model.family

    @property
    def requests_seen(self) -> int:
        """Request messages received (any content)."""
        return self.requests.messages

    @property
    def pushalls_seen(self) -> int:
        return self.requests.count("pushall")

    def behave(self) -> None:
        """Switch every misbehaviour off."""
        self.silent = False
        self.slow_pushall_s = 0.0
        self.double_pushall = False
        self.ignore_pushall = False

    def disconnect(self, for_s: float = 0.0) -> None:
        """Drop the connection; reconnect after `for_s` seconds."""
        self._pause_after_drop_s = for_s
        self._drop.set()

    async def wait_session(self, number: int, timeout_s: float) -> None:
        """Until the printer is connected on its `number`-th session (or later)."""
        async def reached() -> None:
            while not (self.sessions >= number and self.connected.is_set()):
                await asyncio.sleep(SESSION_POLL_S)
        await asyncio.wait_for(reached(), timeout_s)

    async def run(self) -> None:
        while True:
            try:
                await self._session()
            except (aiomqtt.MqttError, OSError) as exc:
                log.debug("simulator %s: %s", self.serial, exc)
            finally:
                self.connected.clear()
                self._client = None
                for task in self._pending:
                    task.cancel()  # a late answer dies with its connection
                self._pending.clear()
            await asyncio.sleep(max(RECONNECT_S, self._pause_after_drop_s))
            self._pause_after_drop_s = 0.0

    async def _session(self) -> None:
        async with aiomqtt.Client(
            self.broker.host, self.broker.port, username=self.broker.username, password=self.broker.password,
            identifier=f"sim-{self.serial}", protocol=aiomqtt.ProtocolVersion.V311,
            tls_context=self.broker.tls_context(), tls_insecure=True, keepalive=KEEPALIVE_S,
        ) as client:
            await client.subscribe(request_topic(self.serial), qos=0)
            self._client = client
            self._drop.clear()
            self.sessions += 1
            self.connected.set()
            tasks = [asyncio.create_task(self._report_loop()), asyncio.create_task(self._answer_loop(client)),
                     asyncio.create_task(self._drop.wait())]
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()
            finally:
                for task in tasks:
                    task.cancel()

    async def _report_loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            self.model.step(self.interval_s)
            if self.silent:
                continue
            report = self.model.periodic_report()
            if report is not None:
                await self._push(report, "full" if report["print"]["msg"] == 0 else "delta")

    async def _answer_loop(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            requests = parse_requests(message.payload)
            self.requests.record(requests, self.sessions)
            if self.silent:
                continue
            for request in requests:
                if is_pushall(request):
                    self._answer_pushall()
                    continue
                reply = answer(self.model, request)
                if reply is not None:
                    await self._push(reply, "reply")

    def _answer_pushall(self) -> None:
        if self.ignore_pushall:
            return
        copies = DOUBLE_PUSHALL_COPIES if self.double_pushall else 1
        task = asyncio.create_task(self._send_full_reports(copies, self.slow_pushall_s))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _send_full_reports(self, copies: int, delay_s: float) -> None:
        if delay_s > 0:
            await asyncio.sleep(delay_s)
        for _ in range(copies):
            if self.silent:
                return
            await self._push(self.model.full_report(), "full")

    async def _push(self, message: dict[str, Any], kind: str) -> None:
        # Built and handed to the client without an await in between: pushes leave in sequence-id order.
        client = self._client
        if client is None:
            return
        self.requests.note_published(kind)
        await client.publish(report_topic(self.serial), json.dumps(message, separators=(",", ":")).encode(), qos=0)

    async def publish(self, message: dict[str, Any]) -> None:
        """Publish any message on the report topic (tests: hand-made reports)."""
        await self.publish_raw(json.dumps(message, separators=(",", ":")).encode())

    async def publish_raw(self, payload: bytes) -> None:
        client = self._client
        if client is not None:
            self.requests.note_published("raw")
            await client.publish(report_topic(self.serial), payload, qos=0)
