"""Benchmark of the local API (issue 2). Prints one JSON object; asserts nothing.

- Authenticated `GET /api/v1/status` over TLS with 50 concurrent clients against the real gateway
  process, next to a bare aiohttp handler (no auth, no middlewares) on the same certificate, measured
  by the same client in the same run: throughput ratio and p99 latency (targets: >= 60 % of bare, p99 <= 20 ms).
  A second bare handler returns a body as large as the status response (ratio reported separately).
- Gateway RSS after start-up (target <= 60 MB), next to the bare server's and to a process that only
  imports the gateway's runtime dependencies (the floor no gateway code can go below), and time from
  process start to READY=1 (target <= 1.5 s), measured before anything else runs.

The machine may be shared: bare and gateway load alternate in short rounds (--rounds of --seconds
each), so that background work weighs on both alike; figures pool every round, and the ratio of each
round pair is listed too.

Run: .venv/bin/python bench/bench_api.py [--seconds 1.5] [--clients 50] [--rounds 6]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.certs import TestCA  # noqa: E402

BARE_SERVER = """
import ssl, sys
from aiohttp import web
SIZED = ('{"pad": "' + "x" * max(0, int(sys.argv[4]) - 11) + '"}').encode()
async def handler(request):
    return web.json_response({"status": "ok"})
async def sized(request):  # a body as large as the gateway's status response
    return web.Response(body=SIZED, content_type="application/json")
app = web.Application()
app.router.add_get("/bare", handler)
app.router.add_get("/bare-sized", sized)
context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(sys.argv[2], sys.argv[3])
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), ssl_context=context, print=None, access_log=None)
"""


DEPENDENCY_FLOOR = """
import time, aiohttp.web, pydantic, jwt, prometheus_client, aiosqlite
from cryptography.hazmat.primitives.asymmetric import ed25519
print("ready", flush=True)
time.sleep(60)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def dependency_floor_rss_mb() -> float:
    """RSS of a Python process that imports only the gateway's runtime dependencies."""
    process = subprocess.Popen([sys.executable, "-c", DEPENDENCY_FLOOR], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        return rss_mb(process.pid)
    finally:
        process.kill()
        process.wait()


@dataclass
class Target:
    """One server under load: its URL, headers, and what its rounds measured."""

    name: str
    url: str
    headers: dict[str, str]
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed_s: float = 0.0
    round_rps: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        return {
            "requests": len(self.latencies),
            "errors": self.errors,
            "rps": round(len(self.latencies) / self.elapsed_s, 1),
            "p50_ms": round(percentile(self.latencies, 0.50) * 1000, 2),
            "p99_ms": round(percentile(self.latencies, 0.99) * 1000, 2),
        }


async def one_round(session: aiohttp.ClientSession, target: Target, clients: int, seconds: float) -> None:
    """`clients` concurrent clients, each sending its next request when the last one is answered."""
    deadline = time.perf_counter() + seconds
    count = 0

    async def client() -> None:
        nonlocal count
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            async with session.get(target.url, headers=target.headers) as response:
                await response.read()
                if response.status != 200:
                    target.errors += 1
            target.latencies.append(time.perf_counter() - started)
            count += 1

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    target.elapsed_s += elapsed
    target.round_rps.append(count / elapsed)


async def warm_up(session: aiohttp.ClientSession, target: Target, clients: int) -> None:
    """Open every connection of the pool (TLS handshakes) before anything is measured."""

    async def one() -> None:
        async with session.get(target.url, headers=target.headers) as response:
            await response.read()

    await asyncio.gather(*(one() for _ in range(clients)))


async def load(targets: list[Target], ssl_context: ssl.SSLContext, clients: int, seconds: float, rounds: int) -> None:
    """Alternate short rounds between the targets, so a machine shared with other work loads both alike."""
    sessions = [aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ssl_context, limit=clients)) for _ in targets]
    try:
        for session, target in zip(sessions, targets):
            await warm_up(session, target, clients)
        for _ in range(rounds):
            for session, target in zip(sessions, targets):
                await one_round(session, target, clients, seconds)
    finally:
        for session in sessions:
            await session.close()


def status_size(url: str, token: str, ssl_context: ssl.SSLContext) -> int:
    """Bytes in the body of one status response."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, context=ssl_context, timeout=10) as response:
        return len(response.read())


def wait_ready(sock: socket.socket, timeout_s: float) -> None:
    sock.settimeout(timeout_s)
    while True:
        if b"READY=1" in sock.recv(4096):
            return


def wait_port(port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"port {port} did not open")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=1.5, help="length of one round")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=6, help="rounds per server, alternating")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        ca = TestCA(tmp_path / "ca")
        cert = ca.issue("gw-bench-01", hosts=("127.0.0.1",))
        client_ssl = ssl.create_default_context(cafile=str(ca.cert_file))
        port, bare_port = free_port(), free_port()
        config = tmp_path / "config.toml"
        config.write_text(
            f'[gateway]\nid = "gw-bench-01"\nstate_dir = "{tmp_path / "state"}"\nlog_level = "warning"\n'
            f'[http]\nlisten = [{{ host = "127.0.0.1", port = {port} }}]\n'
            f'[http.tls]\ncert_file = "{cert.cert_file}"\nkey_file = "{cert.key_file}"\n'
        )
        token = subprocess.run(
            [sys.executable, "-m", "gateway", "token", "issue", "--config", str(config), "--sub", "bench",
             "--role", "viewer", "--ttl", "1h"], capture_output=True, text=True, check=True,
        ).stdout.strip()
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(str(tmp_path / "notify.sock"))
        env = dict(os.environ, NOTIFY_SOCKET=str(tmp_path / "notify.sock"))
        floor_rss = dependency_floor_rss_mb()
        started = time.perf_counter()
        gateway = subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--config", str(config)], env=env)
        bare: subprocess.Popen[bytes] | None = None
        try:
            wait_ready(notify, 30)
            ready_s = time.perf_counter() - started
            time.sleep(0.5)
            rss_start = rss_mb(gateway.pid)
            status_bytes = status_size(f"https://127.0.0.1:{port}/api/v1/status", token, client_ssl)
            bare = subprocess.Popen(
                [sys.executable, "-c", BARE_SERVER, str(bare_port), str(cert.cert_file), str(cert.key_file),
                 str(status_bytes)]
            )
            wait_port(bare_port, 30)
            bare_rss = rss_mb(bare.pid)
            bare_target = Target("bare", f"https://127.0.0.1:{bare_port}/bare", {})
            sized_target = Target("bare-sized", f"https://127.0.0.1:{bare_port}/bare-sized", {})
            gw_target = Target("gateway", f"https://127.0.0.1:{port}/api/v1/status", {"Authorization": f"Bearer {token}"})
            asyncio.run(load([bare_target, sized_target, gw_target], client_ssl, args.clients, args.seconds,
                             args.rounds))
            rss_after_load = rss_mb(gateway.pid)
            load_average = os.getloadavg()
        finally:
            for process in (gateway, bare):
                if process is not None:
                    process.terminate()
                    process.wait(timeout=10)
            notify.close()
    gw_result, bare_result = gw_target.summary(), bare_target.summary()
    print(json.dumps({
        "benchmark": "local_api",
        "clients": args.clients,
        "seconds": args.seconds,
        "rounds": args.rounds,
        "gateway_status_tls": gw_result,
        "bare_aiohttp_tls": bare_result,
        "throughput_ratio": round(gw_result["rps"] / bare_result["rps"], 3),
        "throughput_ratio_per_round": [round(g / b, 3) for g, b in zip(gw_target.round_rps, bare_target.round_rps)],
        # The same comparison with a bare handler whose body is as large as the status response, which
        # separates the gateway's own cost (auth, middlewares, assembling status) from moving the bytes.
        "status_response_bytes": status_bytes,
        "bare_same_size_tls": sized_target.summary(),
        "throughput_ratio_same_size": round(gw_result["rps"] / sized_target.summary()["rps"], 3),
        "targets": {"throughput_ratio_min": 0.6, "p99_ms_max": 20, "rss_mb_max": 60, "ready_s_max": 1.5},
        "gateway_rss_mb_after_start": round(rss_start, 1),
        "gateway_rss_mb_after_load": round(rss_after_load, 1),
        "bare_aiohttp_rss_mb": round(bare_rss, 1),
        "dependency_floor_rss_mb": round(floor_rss, 1),
        "start_to_ready_s": round(ready_s, 3),
        "cpu_count": os.cpu_count(),
        "load_average_1m": round(load_average[0], 2),
    }, indent=2))


if __name__ == "__main__":
    main()
