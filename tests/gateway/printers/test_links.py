"""Printer links against a real mosquitto over real TLS, seen through the real HTTP API."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import ssl
import time
from typing import Any

import pytest

from gateway.factory import Gateway
from gateway.printers.simulator.broker import Mosquitto
from gateway.printers.trust import client_context
from tests.gateway.printers.conftest import GatewayFactory, SimulatorFactory, eventually, printer_entry
from tests.support.gateway import ApiClient, issue
from tests.support.mosquitto import ACCESS_CODE, PRINTER_SERIAL, BrokerCerts

OTHER_SERIAL = "01S00C999999999"


async def printer(gateway: Gateway, serial: str = PRINTER_SERIAL) -> dict[str, Any]:
    api = ApiClient(gateway.urls[0])
    try:
        reply = await api.request("GET", f"/api/v1/printers/{serial}", token=await issue(gateway, "viewer"))
        assert reply.status == 200, reply.body
        return reply.json()
    finally:
        await api.close()


async def test_full_then_delta_reports_merge_into_the_api_state(
    printer_broker: Mosquitto, broker_certs: BrokerCerts, simulators: SimulatorFactory,
    printer_gateway: GatewayFactory,
) -> None:
    sim = await simulators(printer_broker)
    gateway = await printer_gateway([printer_entry(printer_broker, ca_file=str(broker_certs.ca_file))])
    state = await eventually(lambda: _online(gateway))
    assert state["link"] == "online" and state["gcode_state"] == "RUNNING"
    assert state["total_layers"] == 250 and state["nozzle_target_c"] == 220.0 and state["bed_target_c"] == 60.0
    assert [t["type"] for t in state["ams_trays"]] == ["PLA", "PETG"]  # only in the full report
    assert state["errors"] == []
    assert sim.pushalls_seen >= 1

    # A delta that changes a few fields; everything else keeps its value.
    sim.silent = True
    await sim.publish({"print": {"command": "push_status", "msg": 1, "sequence_id": "900", "layer_num": 77,
                                 "nozzle_temper": 180.5, "ams": {"ams": [{"id": "0", "tray": [
                                     {"id": "1", "tray_type": "ABS"}]}]}}})
    state = await eventually(lambda: _where(gateway, lambda s: s["layer"] == 77))
    assert state["nozzle_c"] == 180.5 and state["total_layers"] == 250 and state["gcode_state"] == "RUNNING"
    assert [t["type"] for t in state["ams_trays"]] == ["PLA", "ABS"]

    # HMS errors and a print error, normalised; a later report without them clears them.
    sim.model.inject_hms()
    sim.model.fail_print()
    sim.silent = False
    state = await eventually(lambda: _where(gateway, lambda s: s["gcode_state"] == "FAILED"))
    assert state["errors"] == ["HMS_0700_0200_0002_0001", "0300_400C"]
    sim.model.clear_faults()
    state = await eventually(lambda: _where(gateway, lambda s: s["errors"] == []))
    assert state["gcode_state"] == "FAILED"


async def _online(gateway: Gateway) -> dict[str, Any] | None:
    state = await printer(gateway)
    return state if state["online"] and state["gcode_state"] else None


async def _where(gateway: Gateway, condition: Any, serial: str = PRINTER_SERIAL) -> dict[str, Any] | None:
    state = await printer(gateway, serial)
    return state if condition(state) else None


async def test_wrong_access_code_cn_and_pin_are_refused_once_with_a_clear_status(
    printer_broker: Mosquitto, broker_certs: BrokerCerts, printer_gateway: GatewayFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    gateway = await printer_gateway([
        printer_entry(printer_broker, ca_file=str(broker_certs.ca_file), access_code="wrong-code"),
        printer_entry(printer_broker, OTHER_SERIAL, ca_file=str(broker_certs.ca_file)),
        printer_entry(printer_broker, "01S00C888888888", pin_sha256="ab" * 32),
    ])
    bad_code = await eventually(lambda: _where(gateway, lambda s: s["link"] == "auth_failed"))
    assert "access code" in bad_code["link_message"] and "not retrying" in bad_code["link_message"]
    wrong_cn = await eventually(lambda: _where(gateway, lambda s: s["link"] == "tls_refused", OTHER_SERIAL))
    assert f"expected the serial '{OTHER_SERIAL}'" in wrong_cn["link_message"]
    assert f"CN is '{PRINTER_SERIAL}'" in wrong_cn["link_message"]
    wrong_pin = await eventually(lambda: _where(gateway, lambda s: s["link"] == "tls_refused", "01S00C888888888"))
    assert "does not match the stored pin" in wrong_pin["link_message"]
    await asyncio.sleep(2.0)  # several reconnect periods (0.2 .. 1 s): nothing retries
    assert gateway.printers is not None
    assert [entry.driver.attempts for entry in gateway.printers.manager.entries()] == [1, 1, 1]
    for state in (bad_code, wrong_cn, wrong_pin):
        assert not state["online"] and state["connects"] == 0
    parts = {part.name: part for part in gateway.status().parts}
    assert parts[f"printer:{PRINTER_SERIAL}"].detail["link"] == "auth_failed"
    assert parts[f"printer:{OTHER_SERIAL}"].detail["link"] == "tls_refused"
    text = json.dumps(await printer(gateway))
    assert "wrong-code" not in text and "wrong-code" not in caplog.text and ACCESS_CODE not in caplog.text
    assert "not authorised" in caplog.text  # the refusal itself is logged plainly
    assert "MQTT 3.1.1 CONNACK 5: not authorised" in bad_code["link_message"], "named as the link's protocol"
    assert "135" not in bad_code["link_message"]
    status = gateway.status()
    assert status.state == "degraded"
    for serial, words in ((PRINTER_SERIAL, "access code"), (OTHER_SERIAL, "CN is"), ("01S00C888888888", "pin")):
        part = next(p for p in status.parts if p.name == f"printer:{serial}")
        assert part.state == "degraded" and part.last_error is not None and words in part.last_error, part
    metrics = gateway.context.metrics.render().decode()
    for serial, link in ((PRINTER_SERIAL, "auth_failed"), (OTHER_SERIAL, "tls_refused")):
        assert f'gateway_part_up{{part="printer:{serial}"}} 0.0' in metrics
        assert f'gateway_printer_link_state{{printer="{serial}",state="{link}"}} 1.0' in metrics
        assert f'gateway_printer_link_state{{printer="{serial}",state="online"}} 0.0' in metrics


async def test_broker_restart_reconnects_and_state_is_fresh_within_10_s(
    make_broker: Any, broker_certs: BrokerCerts, simulators: SimulatorFactory, printer_gateway: GatewayFactory,
) -> None:
    broker: Mosquitto = make_broker()
    sim = await simulators(broker)
    gateway = await printer_gateway([printer_entry(broker, ca_file=str(broker_certs.ca_file))])
    await eventually(lambda: _online(gateway))
    pushalls_before = sim.pushalls_seen
    broker.stop()
    await eventually(lambda: _where(gateway, lambda s: not s["online"]))
    sim.model.nozzle_target_c = 250.0  # changed while the gateway cannot see the printer
    full_before = (await printer(gateway))["full_reports"]
    restarted = time.time()
    broker.start()  # from this thread: the broker is tied to it (see die_with_parent)
    state = await eventually(lambda: _where(gateway, lambda s: s["online"] and s["connects"] == 2
                                            and s["full_reports"] > full_before), timeout_s=10)
    assert time.time() - restarted < 10 and state["updated_at"] > restarted
    assert sim.pushalls_seen > pushalls_before  # the full report answered the gateway's pushall
    state = await eventually(lambda: _where(gateway, lambda s: s["nozzle_target_c"] == 250.0))
    assert state["total_layers"] == 250


async def test_malformed_reports_are_counted_and_dropped(
    printer_broker: Mosquitto, broker_certs: BrokerCerts, simulators: SimulatorFactory,
    printer_gateway: GatewayFactory,
) -> None:
    sim = await simulators(printer_broker)
    gateway = await printer_gateway([printer_entry(printer_broker, ca_file=str(broker_certs.ca_file))])
    await eventually(lambda: _online(gateway))
    sim.silent = True
    for payload in (b"not json", b"\x00\xff binary", b"[1, 2, 3]", b'"text"', b"{" * 50_000, b"x" * 300_000):
        await sim.publish_raw(payload)
    await sim.publish({"print": {"nozzle_temper": "very hot", "layer_num": [1], "hms": {"attr": 1},
                                 "mc_percent": None, "bed_temper": 61.5}})
    state = await eventually(lambda: _where(gateway, lambda s: sum(s["dropped"].values()) >= 6
                                            and s["bed_c"] == 61.5))
    # layer_num [1], hms {...} and mc_percent null are fields of the wrong type: dropped from the report
    assert state["dropped"] == {"not_json": 3, "not_object": 2, "too_large": 1, "wrong_type": 3}
    assert state["nozzle_c"] is None and state["errors"] == []  # "very hot" is text where a number is read
    assert state["layer"] is not None, "a layer_num of the wrong type is dropped: the last good one stays"
    sim.silent = False
    state = await eventually(lambda: _where(gateway, lambda s: s["nozzle_c"] is not None))
    assert state["online"] and state["connects"] == 1  # never crashed, never reconnected


async def test_silence_marks_offline_and_asks_for_a_full_report(
    printer_broker: Mosquitto, broker_certs: BrokerCerts, simulators: SimulatorFactory,
    printer_gateway: GatewayFactory,
) -> None:
    sim = await simulators(printer_broker)
    gateway = await printer_gateway([printer_entry(printer_broker, ca_file=str(broker_certs.ca_file))],
                                    offline_after_s=1.5)
    await eventually(lambda: _online(gateway))
    sim.silent = True
    pushalls = sim.pushalls_seen
    state = await eventually(lambda: _where(gateway, lambda s: s["link"] == "offline"))
    assert "no report" in state["link_message"]
    await eventually(lambda: _async(sim.pushalls_seen > pushalls))
    sim.silent = False
    await eventually(lambda: _online(gateway))


async def _async(value: Any) -> Any:
    return value


async def test_insecure_skip_verify_connects_but_says_so_loudly_and_no_anchor_is_not_connected(
    printer_broker: Mosquitto, simulators: SimulatorFactory, printer_gateway: GatewayFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await simulators(printer_broker)
    gateway = await printer_gateway([printer_entry(printer_broker, insecure_skip_verify=True),
                                     printer_entry(printer_broker, OTHER_SERIAL)])
    await eventually(lambda: _online(gateway))
    assert any(r.levelno == logging.WARNING and "NOT verified" in r.getMessage() for r in caplog.records)
    idle = await printer(gateway, OTHER_SERIAL)
    assert idle["link"] == "not_configured" and "printers pin" in idle["link_message"]


async def test_a_printer_that_drops_off_the_network_comes_back(
    printer_broker: Mosquitto, broker_certs: BrokerCerts, simulators: SimulatorFactory,
    printer_gateway: GatewayFactory,
) -> None:
    sim = await simulators(printer_broker)
    gateway = await printer_gateway([printer_entry(printer_broker, ca_file=str(broker_certs.ca_file))],
                                    offline_after_s=1.0)
    await eventually(lambda: _online(gateway))
    sim.disconnect(for_s=2.5)
    await eventually(lambda: _where(gateway, lambda s: s["link"] == "offline"))
    await eventually(lambda: _online(gateway))
    assert (await printer(gateway))["connects"] == 1  # the gateway's own link never dropped


async def test_a_refused_certificate_closes_the_connection_at_once(broker_certs: BrokerCerts) -> None:
    """A printer accepts very few clients: a connection whose certificate we refused must not linger."""
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(broker_certs.files.cert_file, broker_certs.files.key_file)
    closed = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, ssl.SSLError):
            await reader.read()  # returns at EOF: the client closed its side
        closed.set()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    refused: list[str] = []
    context = client_context(OTHER_SERIAL, ca_file=broker_certs.ca_file, pin_sha256=None, insecure=False,
                             on_refused=refused.append)
    kept: list[socket.socket] = []

    def connect() -> None:  # as the MQTT client does: wrap, then shake hands, keeping the socket object
        tls = context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5),
                                  do_handshake_on_connect=False)
        kept.append(tls)
        tls.do_handshake()

    try:
        with pytest.raises(ssl.SSLError):
            await asyncio.to_thread(connect)
        async with asyncio.timeout(2.0):
            await closed.wait()
        assert refused and "expected the serial" in refused[0]
    finally:
        for raw in kept:
            raw.close()
        server.close()
        await server.wait_closed()


def test_a_pin_checks_the_cn_too(broker_certs: BrokerCerts) -> None:
    from gateway.printers.trust import Expectation

    der = ssl.PEM_cert_to_DER_cert(broker_certs.files.cert_file.read_text())
    assert Expectation(OTHER_SERIAL, broker_certs.sha256).problem(der) is not None, "right pin, CN of another"
    assert Expectation(PRINTER_SERIAL, broker_certs.sha256).problem(der) is None


async def test_an_unreachable_printer_degrades_the_gateway_with_its_reason(
    printer_broker: Mosquitto, printer_gateway: GatewayFactory,
) -> None:
    unused = socket.socket()
    unused.bind(("127.0.0.1", 0))
    port = unused.getsockname()[1]  # bound, never listening: connections are refused
    try:
        entry = {**printer_entry(printer_broker), "port": port, "insecure_skip_verify": True}
        gateway = await printer_gateway([entry])
        state = await eventually(lambda: _where(gateway, lambda s: s["link"] == "offline"))
        assert state["link_reason"] == "switched off or unreachable" and "Errno" not in state["link_message"]
        status = gateway.status()
        part = next(p for p in status.parts if p.name == f"printer:{PRINTER_SERIAL}")
        assert status.state == "degraded" and part.state == "degraded"
        assert part.last_error is not None and part.last_error.startswith("switched off or unreachable")
        metrics = gateway.context.metrics.render().decode()
        assert f'gateway_part_up{{part="printer:{PRINTER_SERIAL}"}} 0.0' in metrics
        assert f'gateway_printer_link_state{{printer="{PRINTER_SERIAL}",state="offline"}} 1.0' in metrics
    finally:
        unused.close()
