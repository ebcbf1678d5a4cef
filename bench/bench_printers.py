"""Benchmark of the printer links (issue 5). Prints one JSON object; asserts nothing.

50 simulated printers (one simulator process, one MQTT client each) report at 2 Hz through one real
mosquitto over TLS to the real gateway process (`edge-gateway serve`), which holds one pinned TLS link
per printer. Measured in the same run:
- the gateway's CPU share (percent of one core) idle (links up, printers silent) and under load, and its RSS;
- report-to-API latency: probe reports published at t0, then `GET /api/v1/printers/{serial}` polled until
  the probe's value shows; p50/p99 of (first response showing it - t0) and of (the state's updated_at - t0)
  (target p99 <= 50 ms), next to a bare MQTT subscriber's receive latency for the same probes (baseline ratio).

Run: .venv/bin/python bench/bench_printers.py [--printers 50] [--rate-hz 2] [--seconds 10] [--probes 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import aiomqtt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.printers.assembly import credential_store  # noqa: E402
from gateway.printers.const import report_topic  # noqa: E402
from gateway.printers.simulator.broker import SIMULATOR_USERNAME, Mosquitto, secret_file  # noqa: E402
from gateway.printers.simulator.client import BrokerAddress  # noqa: E402
from gateway.printers.simulator.site import free_loopback_port, self_signed  # noqa: E402

ACCESS_CODE = "31415926"
SIM_PASSWORD = "bench-sim-password"
POLL_INTERVAL_S = 0.002
PROBE_VALUE_BASE = 1000


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


async def cpu_share(pids: dict[str, int], seconds: float) -> dict[str, float]:
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    started = time.perf_counter()
    await asyncio.sleep(seconds)
    wall = time.perf_counter() - started
    return {name: round(100 * (cpu_seconds(pid) - before[name]) / wall, 1) for name, pid in pids.items()}


async def get_json(session: aiohttp.ClientSession, url: str, token: str) -> dict:
    async with session.get(url, headers={"Authorization": f"Bearer {token}"}) as response:
        return await response.json()


async def wait_all_online(session: aiohttp.ClientSession, base: str, token: str, count: int, timeout_s: float) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout_s:
        printers = (await get_json(session, f"{base}/api/v1/printers", token))["printers"]
        if sum(p["online"] for p in printers) == count:
            return time.perf_counter() - started
        await asyncio.sleep(0.2)
    raise RuntimeError("not every printer came online")


async def probes(base: str, token: str, broker: BrokerAddress, serials: list[str], count: int) -> dict[str, list[float]]:
    """Publish probe reports; time the bare subscriber and the API for each."""
    received: dict[int, float] = {}
    bare_ready = asyncio.Event()

    async def bare_subscriber() -> None:
        async with aiomqtt.Client(broker.host, broker.port, username="bblp", password=ACCESS_CODE,
                                  identifier="bench-bare", tls_context=broker.tls_context(), tls_insecure=True) as client:
            await client.subscribe("device/+/report")
            bare_ready.set()
            async for message in client.messages:
                payload = message.payload
                if isinstance(payload, bytes) and b"chamber_temper" in payload:
                    value = json.loads(payload)["print"].get("chamber_temper")
                    if isinstance(value, int) and value >= PROBE_VALUE_BASE:
                        received[value] = time.time()

    results: dict[str, list[float]] = {"api_seen_ms": [], "state_updated_ms": [], "bare_mqtt_ms": []}
    bare = asyncio.create_task(bare_subscriber())
    await asyncio.wait_for(bare_ready.wait(), 10)
    async with aiomqtt.Client(broker.host, broker.port, username=broker.username, password=broker.password,
                              identifier="bench-probe", tls_context=broker.tls_context(), tls_insecure=True) as client, \
            aiohttp.ClientSession() as session:
        for index in range(count):
            serial = random.choice(serials)
            value = PROBE_VALUE_BASE + index
            body = {"print": {"command": "push_status", "msg": 1, "sequence_id": f"p{index}", "chamber_temper": value}}
            url = f"{base}/api/v1/printers/{serial}"
            t0 = time.time()
            await client.publish(report_topic(serial), json.dumps(body))
            while True:
                state = await get_json(session, url, token)
                if state["chamber_c"] == value:
                    results["api_seen_ms"].append(1000 * (time.time() - t0))
                    results["state_updated_ms"].append(1000 * (state["updated_at"] - t0))
                    break
                if time.time() - t0 > 5:
                    break
                await asyncio.sleep(POLL_INTERVAL_S)
            await asyncio.sleep(0.02)
            if value in received:
                results["bare_mqtt_ms"].append(1000 * (received[value] - t0))
    bare.cancel()
    await asyncio.gather(bare, return_exceptions=True)
    results["lost"] = [count - len(results["api_seen_ms"])]
    return results


async def run(args: argparse.Namespace, tmp: Path) -> dict:
    serials = [f"BENCH{index:010d}" for index in range(args.printers)]
    files, pin = self_signed(tmp / "pki", serials[0])
    broker = Mosquitto(tmp / "broker", free_loopback_port(), files, access_code=ACCESS_CODE,
                       simulator_password=SIM_PASSWORD)
    state_dir = tmp / "state"
    store = credential_store(state_dir, state_dir / "secrets.key")
    lines = [f'[gateway]\nid = "gw-bench-01"\nstate_dir = "{state_dir}"\nlog_level = "warning"\n',
             f'[http]\nlisten = [{{ host = "127.0.0.1", port = {args.api_port or free_loopback_port()} }}]\n']
    for serial in serials:
        store.set_access_code(serial, ACCESS_CODE)
        store.set_pin(serial, pin, serials[0])
        lines.append(f'[[printers.printers]]\nserial = "{serial}"\nhost = "127.0.0.1"\nport = {broker.port}\n')
    config = tmp / "config.toml"
    config.write_text("".join(lines))
    port = int(lines[1].split("port = ")[1].split()[0])
    base = f"http://127.0.0.1:{port}"
    token = subprocess.run([sys.executable, "-m", "gateway", "token", "issue", "--config", str(config), "--sub",
                            "bench", "--role", "viewer", "--ttl", "1h"], capture_output=True, text=True,
                           check=True).stdout.strip()
    password_file = secret_file(tmp / "sim.password", SIM_PASSWORD)
    broker.start()
    gateway = subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--config", str(config)])
    simulators: subprocess.Popen[bytes] | None = None
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(200):
                try:
                    await get_json(session, f"{base}/api/v1/printers", token)
                    break
                except (aiohttp.ClientError, ValueError):
                    await asyncio.sleep(0.1)
            await asyncio.sleep(2)
            pids = {"gateway": gateway.pid, "mosquitto": broker.pid or 0}
            idle = await cpu_share(pids, args.seconds / 2)
            rss_idle = rss_mb(gateway.pid)
            command = [sys.executable, "-m", "gateway.printers.simulator", "--port", str(broker.port), "--username",
                       SIMULATOR_USERNAME, "--password-file", str(password_file), "--rate-hz", str(args.rate_hz),
                       "--seed", "1"]
            for serial in serials:
                command += ["--serial", serial]
            simulators = subprocess.Popen(command)
            online_s = await wait_all_online(session, base, token, len(serials), 60)
            await asyncio.sleep(1)
            pids["simulators"] = simulators.pid
            loaded = await cpu_share(pids, args.seconds)
            rss_loaded = rss_mb(gateway.pid)
            printers = (await get_json(session, f"{base}/api/v1/printers", token))["printers"]
        address = BrokerAddress("127.0.0.1", broker.port, SIMULATOR_USERNAME, SIM_PASSWORD)
        latency = await probes(base, token, address, serials, args.probes)
    finally:
        for process in (simulators, gateway):
            if process is not None:
                process.terminate()
                process.wait(10)
        broker.stop()
    api_p99, bare_p99 = percentile(latency["api_seen_ms"], 0.99), percentile(latency["bare_mqtt_ms"], 0.99)
    return {
        "benchmark": "printers", "printers": args.printers, "rate_hz": args.rate_hz,
        "reports_per_s": args.printers * args.rate_hz, "all_online_after_s": round(online_s, 2),
        "reports_accepted": sum(p["reports"] for p in printers),
        "reports_dropped": sum(sum(p["dropped"].values()) for p in printers),
        "cpu_pct_of_one_core": {"idle": idle, "loaded": loaded},
        "gateway_cpu_pct_loaded": loaded["gateway"],
        "gateway_rss_mb": {"idle": round(rss_idle, 1), "loaded": round(rss_loaded, 1)},
        "probes": args.probes, "probes_lost": latency["lost"][0],
        "report_to_api_ms": {"p50": round(percentile(latency["api_seen_ms"], 0.5), 2), "p99": round(api_p99, 2),
                             "max": round(max(latency["api_seen_ms"], default=float("nan")), 2)},
        "report_to_state_ms": {"p50": round(percentile(latency["state_updated_ms"], 0.5), 2),
                               "p99": round(percentile(latency["state_updated_ms"], 0.99), 2)},
        "baseline_bare_mqtt_ms": {"p50": round(percentile(latency["bare_mqtt_ms"], 0.5), 2), "p99": round(bare_p99, 2)},
        "api_p99_over_bare_p99": round(api_p99 / bare_p99, 2) if bare_p99 else None,
        "target_p99_ms": 50, "meets_target": api_p99 <= 50,
        "api_poll_interval_ms": POLL_INTERVAL_S * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--printers", type=int, default=50)
    parser.add_argument("--rate-hz", type=float, default=2.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--probes", type=int, default=200)
    parser.add_argument("--api-port", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-printers-") as tmp:
        print(json.dumps(asyncio.run(run(args, Path(tmp))), indent=2))


if __name__ == "__main__":
    main()
