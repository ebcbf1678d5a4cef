"""A printer (or someone on its broker) floods the gateway: bad messages, oversized reports.

Real TLS mosquitto; the flood is published on the printer's report topic as the printer would.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import ssl
import statistics
import time

import aiomqtt
import pytest

from gateway.logs import REPEAT_INTERVAL_S, RepeatFilter
from gateway.printers.const import report_topic
from gateway.printers.simulator.broker import SIMULATOR_USERNAME, Mosquitto
from tests.gateway.printers.conftest import GatewayFactory, eventually, printer_entry
from tests.support.gateway import ApiClient, issue
from tests.support.mosquitto import PRINTER_SERIAL, SIMULATOR_PASSWORD, BrokerCerts

MALFORMED = 20_000
OVERSIZED = 1_000
RSS_GROWTH_MAX_BYTES = 20 * 1024 * 1024
API_P99_MAX_S = 0.1


def rss_bytes() -> int:
    with open(f"/proc/{os.getpid()}/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


async def publisher(broker: Mosquitto, certs: BrokerCerts) -> aiomqtt.Client:
    context = ssl.create_default_context(cafile=str(certs.ca_file))
    context.check_hostname = False
    return aiomqtt.Client("127.0.0.1", broker.port, username=SIMULATOR_USERNAME, password=SIMULATOR_PASSWORD,
                          tls_context=context, tls_insecure=True, identifier="flood-test")


async def online_gateway(printer_gateway: GatewayFactory, broker: Mosquitto, certs: BrokerCerts, client: aiomqtt.Client):  # type: ignore[no-untyped-def]
    gateway = await printer_gateway([printer_entry(broker, ca_file=str(certs.ca_file))])
    report = {"print": {"command": "push_status", "msg": 0, "sequence_id": "1", "gcode_state": "RUNNING",
                        "mc_percent": 10}}
    entry = gateway.printers.manager.get(PRINTER_SERIAL)  # type: ignore[union-attr]

    async def reported() -> bool:  # until the gateway has subscribed, a report is lost: say it again
        await client.publish(report_topic(PRINTER_SERIAL), json.dumps(report))
        await asyncio.sleep(0.1)
        return entry.state.online

    await eventually(reported)
    return gateway, entry


async def test_20000_malformed_messages_give_one_log_line_per_interval(
    printer_broker: Mosquitto, broker_certs: BrokerCerts, printer_gateway: GatewayFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="gateway.printers.driver")
    repeat = RepeatFilter()  # the filter the service's log handler carries (gateway.logs.setup_logging)
    caplog.handler.addFilter(repeat)
    try:
        async with await publisher(printer_broker, broker_certs) as client:
            gateway, entry = await online_gateway(printer_gateway, printer_broker, broker_certs, client)
            started = time.monotonic()
            for index in range(MALFORMED):
                await client.publish(report_topic(PRINTER_SERIAL), b"{not json" if index % 2 else b"[1, 2]")
            await eventually(lambda: asyncio.sleep(0, sum(entry.state.dropped.values()) >= MALFORMED // 2),
                             timeout_s=60)
            elapsed = time.monotonic() - started
    finally:
        caplog.handler.removeFilter(repeat)
    lines = [r for r in caplog.records if "report dropped" in r.getMessage()]
    intervals = int(elapsed // REPEAT_INTERVAL_S) + 1
    print(f"{MALFORMED} published in {elapsed:.1f} s; dropped {dict(entry.state.dropped)}; {len(lines)} log lines")
    assert 1 <= len(lines) <= 2 * intervals, [r.getMessage() for r in lines]  # one per interval for each of two reasons
    assert entry.state.online, "the printer's good reports still count"


async def test_1000_oversized_key_reports_keep_memory_and_the_api_small(
    printer_broker: Mosquitto, broker_certs: BrokerCerts, printer_gateway: GatewayFactory,
) -> None:
    async with await publisher(printer_broker, broker_certs) as client:
        gateway, entry = await online_gateway(printer_gateway, printer_broker, broker_certs, client)
        api = ApiClient(gateway.urls[0])
        token = await issue(gateway, "viewer")
        latencies: list[float] = []
        stop = asyncio.Event()

        async def poll() -> None:
            while not stop.is_set():
                begun = time.monotonic()
                reply = await api.request("GET", f"/api/v1/printers/{PRINTER_SERIAL}", token=token)
                latencies.append(time.monotonic() - begun)
                assert reply.status == 200

        for _ in range(20):  # warm up: first requests build caches
            await api.request("GET", f"/api/v1/printers/{PRINTER_SERIAL}", token=token)
        before = rss_bytes()
        poller = asyncio.create_task(poll())
        try:
            for index in range(OVERSIZED):  # each a valid report of ~100 kB with 400 keys never seen before
                report = {"print": {f"k{index}_{n}_{'x' * 40}": "v" * 200 for n in range(400)}}
                await client.publish(report_topic(PRINTER_SERIAL), json.dumps(report))
            await eventually(lambda: asyncio.sleep(0, entry.state.reports >= OVERSIZED), timeout_s=120)
        finally:
            stop.set()
            await poller
            await api.close()
        growth = rss_bytes() - before
    p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) >= 100 else max(latencies)
    print(f"RSS +{growth / 2**20:.1f} MB; API p99 {p99 * 1000:.1f} ms over {len(latencies)} requests; "
          f"dropped {dict(entry.state.dropped)}; state keys {entry.state.state_keys}")
    assert entry.state.dropped["state_full"] > 0 and entry.state.online
    assert growth < RSS_GROWTH_MAX_BYTES
    assert p99 < API_P99_MAX_S
