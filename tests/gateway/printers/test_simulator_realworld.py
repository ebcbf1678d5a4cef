"""The simulated printer behaves like the public notes say real Bambu printers do (see the simulator's
module docstrings for the sources), seen from a raw MQTT client playing the gateway over real TLS mosquitto:
its own sequence ids, pushall answers, command replies, P1 deltas, X1 full reports, both lights, the
misbehaviours and the request evidence.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Self

import aiomqtt
import pytest

from gateway.printers.const import MQTT_USERNAME, report_topic, request_topic
from gateway.printers.simulator.broker import Mosquitto
from gateway.printers.simulator.model import Family, SimulatedPrinter
from tests.gateway.printers.conftest import SimulatorFactory
from tests.support.mosquitto import ACCESS_CODE, BrokerCerts

OUR_ID = "987654321"  # a gateway-style sequence id the printer's own counter never reaches in a test
WAIT_S = 3.0  # generous upper bound for anything that should come "soon" on a loaded 2-core machine
QUIET_S = 1.2  # how long "nothing arrives" is watched
DRAIN_S = 0.4  # lets pushes already on their way arrive before a quiet period is watched
POLL_S = 0.02
FULL_ONLY = {"ams", "subtask_name"}  # in a full report, never in a P1 delta
CHANGEABLE = {"gcode_state", "mc_percent", "layer_num", "total_layer_num", "mc_remaining_time", "nozzle_temper",
              "nozzle_target_temper", "bed_temper", "bed_target_temper", "chamber_temper", "print_error", "hms",
              "spd_lvl", "wifi_signal", "lights_report"}
ENVELOPE = {"command", "msg", "sequence_id"}

Report = dict[str, Any]


class RawGateway:
    """A bare MQTT client with the gateway's credentials: reads reports, writes requests, nothing else."""

    def __init__(self, port: int, serial: str, ca_file: Path) -> None:
        context = ssl.create_default_context(cafile=str(ca_file))
        context.check_hostname = False  # the broker's certificate names the printer, not 127.0.0.1
        self.serial = serial
        self.client = aiomqtt.Client("127.0.0.1", port, username=MQTT_USERNAME, password=ACCESS_CODE,
                                     tls_context=context, protocol=aiomqtt.ProtocolVersion.V311)
        self.received: list[tuple[float, dict[str, Any]]] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        await self.client.__aenter__()
        await self.client.subscribe(report_topic(self.serial))
        self._task = asyncio.create_task(self._collect())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
        try:
            await self.client.__aexit__(None, None, None)
        except aiomqtt.MqttError:
            pass

    async def _collect(self) -> None:
        try:
            async for message in self.client.messages:
                self.received.append((time.monotonic(), json.loads(message.payload)))
        except aiomqtt.MqttError:
            pass  # the broker went away (a restart test): this client is done

    async def send(self, section: str, **body: Any) -> None:
        await self.client.publish(request_topic(self.serial), json.dumps({section: body}))

    def mark(self) -> int:
        return len(self.received)

    def since(self, mark: int) -> list[dict[str, Any]]:
        return [message for _, message in self.received[mark:]]

    async def wait_for(self, check: Callable[[dict[str, Any]], bool], mark: int = 0,
                       timeout_s: float = WAIT_S) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for message in self.since(mark):
                if check(message):
                    return message
            await asyncio.sleep(POLL_S)
        raise AssertionError(f"no such message within {timeout_s} s; got {self.since(mark)[-5:]!r}")


def push(message: dict[str, Any], msg: int | None = None) -> bool:
    body = message.get("print", {})
    return body.get("command") == "push_status" and (msg is None or body.get("msg") == msg)


def full(message: dict[str, Any]) -> bool:
    return push(message, 0)


def delta(message: dict[str, Any]) -> bool:
    return push(message, 1)


def reply(section: str, command: str) -> Callable[[dict[str, Any]], bool]:
    return lambda message: message.get(section, {}).get("command") == command


def answer_to(section: str, sequence_id: str) -> Callable[[dict[str, Any]], bool]:
    """A command reply (it has `result`) with this sequence id; never a push, whose ids are the printer's."""
    return lambda message: "result" in message.get(section, {}) and message[section]["sequence_id"] == sequence_id


def push_ids(messages: list[dict[str, Any]]) -> list[int]:
    return [int(m["print"]["sequence_id"]) for m in messages if push(m)]


@pytest.fixture
async def gateway_for(printer_broker: Mosquitto, broker_certs: BrokerCerts) -> AsyncIterator[
        Callable[..., Any]]:
    opened: list[RawGateway] = []

    async def open_(serial: str, broker: Mosquitto = printer_broker) -> RawGateway:
        raw = await RawGateway(broker.port, serial, broker_certs.ca_file).__aenter__()
        opened.append(raw)
        return raw

    yield open_
    for raw in opened:
        await raw.__aexit__()


async def test_pushall_is_answered_with_a_full_report_numbered_by_the_printer(
    printer_broker: Mosquitto, simulators: SimulatorFactory, gateway_for: Any,
) -> None:
    sim = await simulators(printer_broker, "01S00C000000101")
    gw: RawGateway = await gateway_for(sim.serial)
    start = gw.mark()
    await gw.wait_for(delta, start)
    await gw.send("pushing", sequence_id=OUR_ID, command="pushall")
    report = (await gw.wait_for(full, start))["print"]
    assert report["sequence_id"] != OUR_ID and report["msg"] == 0
    assert CHANGEABLE | FULL_ONLY | ENVELOPE <= set(report)
    await gw.wait_for(delta, gw.mark())  # one more push after the full report
    ids = push_ids(gw.since(start))  # deltas and the full report: one counter, one more per push
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    assert sim.requests.sequence_ids("pushall") == [OUR_ID] and sim.requests.published["full"] == 1


async def test_command_replies_carry_our_sequence_id_and_echo_the_request(
    printer_broker: Mosquitto, simulators: SimulatorFactory, gateway_for: Any,
) -> None:
    sim = await simulators(printer_broker, "01S00C000000102")
    gw: RawGateway = await gateway_for(sim.serial)
    start = gw.mark()
    await gw.send("print", sequence_id="7001", command="pause", param="")
    paused = (await gw.wait_for(reply("print", "pause"), start))["print"]
    assert paused == {"sequence_id": "7001", "command": "pause", "param": "", "result": "success",
                      "reason": "success"}
    await gw.wait_for(lambda m: delta(m) and m["print"].get("gcode_state") == "PAUSE", start)
    await gw.send("print", sequence_id="7002", command="print_speed", param="3")
    await gw.send("print", sequence_id="7003", command="gcode_line", param="M140 S75 \n")
    await gw.send("print", sequence_id="7004", command="resume", param="")
    await gw.send("print", sequence_id="7005", command="resume", param="")  # already running: refused
    await gw.wait_for(answer_to("print", "7005"), start)
    replies = {m["print"]["sequence_id"]: m["print"] for m in gw.since(start) if "result" in m.get("print", {})}
    assert [replies[i]["result"] for i in ("7002", "7003", "7004", "7005")] == ["success"] * 3 + ["failed"]
    assert replies["7003"]["param"] == "M140 S75 \n" and replies["7005"]["err_code"] == 1
    await gw.wait_for(lambda m: delta(m) and m["print"].get("spd_lvl") == 3, start)
    await gw.wait_for(lambda m: delta(m) and m["print"].get("bed_target_temper") == 75, start)
    assert sim.model.gcode_state == "RUNNING"


async def test_p1_pushes_only_what_changed_and_a_full_report_only_when_asked(
    printer_broker: Mosquitto, simulators: SimulatorFactory, gateway_for: Any,
) -> None:
    sim = await simulators(printer_broker, "01S00C000000103")
    assert sim.family is Family.P1
    gw: RawGateway = await gateway_for(sim.serial)
    await gw.send("pushing", sequence_id=OUR_ID, command="pushall")
    known = dict((await gw.wait_for(full))["print"])
    start = 1 + next(i for i, (_, m) in enumerate(gw.received) if full(m))  # every push after the full one
    await gw.send("print", sequence_id="7101", command="gcode_line", param="M104 S230\n")
    await gw.wait_for(lambda m: delta(m) and m["print"].get("nozzle_target_temper") == 230, start)
    await asyncio.sleep(DRAIN_S)
    deltas = [m["print"] for m in gw.since(start) if push(m)]
    assert len(deltas) >= 2 and all(d["msg"] == 1 for d in deltas)  # no unasked full report
    for body in deltas:
        fields = set(body) - ENVELOPE
        assert fields and fields <= CHANGEABLE, body
        assert all(body[key] != known[key] for key in fields), (body, known)  # each one really changed
        known.update(body)
    assert not any("total_layer_num" in d for d in deltas)  # constant during the job: never repeated


async def test_x1_pushes_the_full_object_every_time(
    printer_broker: Mosquitto, simulators: SimulatorFactory, gateway_for: Any,
) -> None:
    serial = "01S00C000000104"
    sim = await simulators(printer_broker, serial, model=SimulatedPrinter(serial, family=Family.X1))
    gw: RawGateway = await gateway_for(serial)
    start = gw.mark()
    await gw.wait_for(lambda m: sum(push(x) for x in gw.since(start)) >= 3, start)  # unasked
    await gw.send("pushing", sequence_id=OUR_ID, command="pushall")
    asked = gw.mark()
    await gw.wait_for(lambda m: sim.requests.count("pushall") == 1 and full(m), asked)
    pushes = [m["print"] for m in gw.since(start) if push(m)]
    assert all(p["msg"] == 0 and CHANGEABLE | FULL_ONLY | ENVELOPE <= set(p) for p in pushes)
    assert OUR_ID not in {p["sequence_id"] for p in pushes}
    ids = push_ids(gw.since(start))
    assert ids == list(range(ids[0], ids[0] + len(ids)))


async def test_silent_printer_stays_connected_and_publishes_nothing(
    printer_broker: Mosquitto, simulators: SimulatorFactory, gateway_for: Any,
) -> None:
    sim = await simulators(printer_broker, "01S00C000000105")
    gw: RawGateway = await gateway_for(sim.serial)
    await gw.wait_for(delta)
    sim.silent = True
    await asyncio.sleep(DRAIN_S)
    quiet, published = gw.mark(), sum(sim.requests.published.values())
    await gw.send("pushing", sequence_id=OUR_ID, command="pushall")
    await gw.send("print", sequence_id="7201", command="pause", param="")
    await asyncio.sleep(QUIET_S)
    assert gw.since(quiet) == [] and sum(sim.requests.published.values()) == published
    assert sim.connected.is_set() and sim.requests.by_command() == {"pushall": 1, "pause": 1}
    assert sim.model.gcode_state == "RUNNING"  # ignored, not carried out
    sim.behave()
    await gw.wait_for(delta, quiet)


async def test_slow_pushall_answers_after_the_delay(
    printer_broker: Mosquitto, simulators: SimulatorFactory, gateway_for: Any,
) -> None:
    sim = await simulators(printer_broker, "01S00C000000106")
    sim.slow_pushall_s = 1.0
    gw: RawGateway = await gateway_for(sim.serial)
    start, asked = gw.mark(), time.monotonic()
    await gw.send("pushing", sequence_id=OUR_ID, command="pushall")
    await gw.wait_for(full, start, timeout_s=sim.slow_pushall_s + WAIT_S)
    arrived = next(at for at, m in gw.received[start:] if full(m))
    assert arrived - asked >= sim.slow_pushall_s
    assert any(delta(m) for at, m in gw.received[start:] if at < arrived)  # deltas went on meanwhile


async def test_double_pushall_answers_twice_with_two_of_its_own_ids(
    printer_broker: Mosquitto, simulators: SimulatorFactory, gateway_for: Any,
) -> None:
    sim = await simulators(printer_broker, "01S00C000000107")
    sim.double_pushall = True
    gw: RawGateway = await gateway_for(sim.serial)
    start = gw.mark()
    await gw.send("pushing", sequence_id=OUR_ID, command="pushall")
    await gw.wait_for(lambda m: sum(full(x) for x in gw.since(start)) >= 2, start)
    await asyncio.sleep(DRAIN_S)
    answers = [m["print"]["sequence_id"] for m in gw.since(start) if full(m)]
    assert len(answers) == 2 and OUR_ID not in answers and int(answers[1]) > int(answers[0])
    assert sim.requests.count("pushall") == 1 and sim.requests.published["full"] == 2


async def test_ignored_pushall_is_never_answered_but_deltas_go_on(
    printer_broker: Mosquitto, simulators: SimulatorFactory, gateway_for: Any,
) -> None:
    sim = await simulators(printer_broker, "01S00C000000108")
    sim.ignore_pushall = True
    gw: RawGateway = await gateway_for(sim.serial)
    start = gw.mark()
    await gw.send("pushing", sequence_id=OUR_ID, command="pushall")
    await asyncio.sleep(QUIET_S)
    assert not any(full(m) for m in gw.since(start)) and any(delta(m) for m in gw.since(start))
    assert sim.requests.count("pushall") == 1
    sim.behave()
    await gw.send("pushing", sequence_id=OUR_ID, command="pushall")
    await gw.wait_for(full, start)


async def test_both_lights_are_controlled_with_ledctrl_and_reported(
    printer_broker: Mosquitto, simulators: SimulatorFactory, gateway_for: Any,
) -> None:
    sim = await simulators(printer_broker, "01S00C000000109")
    gw: RawGateway = await gateway_for(sim.serial)
    start = gw.mark()
    led = {"led_on_time": 500, "led_off_time": 500, "loop_times": 1, "interval_time": 1000}
    await gw.send("system", sequence_id="7301", command="ledctrl", led_node="chamber_light", led_mode="off", **led)
    await gw.send("system", sequence_id="7302", command="ledctrl", led_node="work_light", led_mode="on", **led)
    await gw.send("system", sequence_id="7303", command="ledctrl", led_node="laser", led_mode="on", **led)
    await gw.wait_for(answer_to("system", "7303"), start)
    replies = {m["system"]["sequence_id"]: m["system"] for m in gw.since(start) if reply("system", "ledctrl")(m)}
    assert replies["7301"] == {"sequence_id": "7301", "command": "ledctrl", "led_node": "chamber_light",
                               "led_mode": "off", **led, "result": "success", "reason": "success"}
    assert replies["7302"]["result"] == "success" and replies["7303"]["result"] == "failed"
    wanted = [{"node": "chamber_light", "mode": "off"}, {"node": "work_light", "mode": "on"}]
    await gw.wait_for(lambda m: delta(m) and m["print"].get("lights_report") == wanted, start)
    await gw.send("pushing", sequence_id=OUR_ID, command="pushall")
    assert (await gw.wait_for(full, start))["print"]["lights_report"] == wanted
    assert sim.model.lights == {"chamber_light": "off", "work_light": "on"}


async def test_requests_are_counted_by_command_with_times(
    printer_broker: Mosquitto, simulators: SimulatorFactory, gateway_for: Any,
) -> None:
    sim = await simulators(printer_broker, "01S00C000000110")
    gw: RawGateway = await gateway_for(sim.serial)
    before = time.monotonic()
    await gw.send("pushing", sequence_id=OUR_ID, command="pushall")
    await gw.send("print", sequence_id="7401", command="pause", param="")
    await gw.client.publish(request_topic(sim.serial), b"not json")
    await gw.client.publish(request_topic(sim.serial), json.dumps(
        {"system": {"sequence_id": "7402", "command": "ledctrl", "led_node": "work_light", "led_mode": "off"},
         "info": {"sequence_id": "7403", "command": "get_version"}}))  # two sections in one message
    await gw.wait_for(reply("info", "get_version"))
    assert sim.requests.by_command() == {"pushall": 1, "pause": 1, "ledctrl": 1, "get_version": 1}
    assert sim.requests.messages == 4 and sim.requests.malformed == 1 and sim.requests_seen == 4
    times = [r.at_s for r in sim.requests.records]
    assert times == sorted(times) and before <= times[0] and times[-1] <= time.monotonic()
    assert sim.requests.count("pushall", since_s=times[-1] + 0.001) == 0 and sim.pushalls_seen == 1


async def test_broker_restart_the_printer_reconnects_and_counts_one_pushall_per_session(
    make_broker: Callable[[], Mosquitto], simulators: SimulatorFactory, gateway_for: Any,
) -> None:
    broker = make_broker()
    sim = await simulators(broker, "01S00C000000111")
    gw: RawGateway = await gateway_for(sim.serial, broker)
    await gw.send("pushing", sequence_id=OUR_ID, command="pushall")
    first = (await gw.wait_for(full))["print"]["sequence_id"]
    await broker.restart_async()
    await sim.wait_session(2, WAIT_S)
    gw = await gateway_for(sim.serial, broker)  # the old client lost its broker; a gateway reconnects
    await gw.send("pushing", sequence_id=OUR_ID, command="pushall")
    second = (await gw.wait_for(full))["print"]["sequence_id"]
    assert int(second) > int(first)  # the printer's counter survives a broker restart
    assert sim.requests.per_session("pushall") == {1: 1, 2: 1} and sim.sessions == 2
