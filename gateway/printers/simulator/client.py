"""The simulated printer's MQTT shell: publishes reports, answers requests, misbehaves on demand."""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from dataclasses import dataclass
from itertools import count
from pathlib import Path

import aiomqtt

from gateway.printers.const import report_topic, request_topic
from gateway.printers.simulator.model import SimulatedPrinter

log = logging.getLogger(__name__)

RECONNECT_S = 0.5


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
    """One simulated printer connected to a broker. `run()` until cancelled; the methods inject faults."""

    def __init__(self, model: SimulatedPrinter, broker: BrokerAddress, *, rate_hz: float = 2.0) -> None:
        self.model = model
        self.broker = broker
        self.interval_s = 1.0 / rate_hz
        self.silent = False
        self.requests_seen = 0
        self.pushalls_seen = 0
        self.connected = asyncio.Event()
        self._sequence = count(1)
        self._client: aiomqtt.Client | None = None
        self._drop = asyncio.Event()
        self._pause_after_drop_s = 0.0

    @property
    def serial(self) -> str:
        return self.model.serial

    async def run(self) -> None:
        while True:
            try:
                await self._session()
            except aiomqtt.MqttError as exc:
                log.debug("simulator %s: %s", self.serial, exc)
            self.connected.clear()
            self._client = None
            await asyncio.sleep(max(RECONNECT_S, self._pause_after_drop_s))
            self._pause_after_drop_s = 0.0

    async def _session(self) -> None:
        async with aiomqtt.Client(
            self.broker.host, self.broker.port, username=self.broker.username, password=self.broker.password,
            identifier=f"sim-{self.serial}", protocol=aiomqtt.ProtocolVersion.V311,
            tls_context=self.broker.tls_context(), tls_insecure=True, keepalive=10,
        ) as client:
            await client.subscribe(request_topic(self.serial), qos=0)
            self._client = client
            self._drop.clear()
            self.connected.set()
            tasks = [asyncio.create_task(self._report_loop(client)), asyncio.create_task(self._answer_loop(client)),
                     asyncio.create_task(self._drop.wait())]
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()
            finally:
                for task in tasks:
                    task.cancel()

    async def _report_loop(self, client: aiomqtt.Client) -> None:
        await self.publish(self.model.full_report(str(next(self._sequence))))
        while True:
            await asyncio.sleep(self.interval_s)
            self.model.step(self.interval_s)
            if not self.silent:
                await self.publish(self.model.delta_report(str(next(self._sequence))))

    async def _answer_loop(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            self.requests_seen += 1
            try:
                request = json.loads(message.payload)  # type: ignore[arg-type]
            except (ValueError, TypeError):
                continue
            if isinstance(request, dict) and isinstance(request.get("pushing"), dict):
                self.pushalls_seen += 1
            if self.silent:
                continue
            for reply in self.model.handle(request):
                await self.publish(reply)

    async def publish(self, message: dict[str, object]) -> None:
        await self.publish_raw(json.dumps(message, separators=(",", ":")).encode())

    async def publish_raw(self, payload: bytes) -> None:
        client = self._client
        if client is not None:
            await client.publish(report_topic(self.serial), payload, qos=0)

    def disconnect(self, for_s: float = 0.0) -> None:
        """Drop the connection; reconnect after `for_s` seconds."""
        self._pause_after_drop_s = for_s
        self._drop.set()
