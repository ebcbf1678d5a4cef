"""Benchmark of the local API (issue 2). Prints one JSON object; asserts nothing.

- Authenticated `GET /api/v1/status` over TLS with 50 concurrent clients against the real gateway
  process, next to a bare aiohttp handler (no auth, no middlewares) on the same certificate, measured
  by the same client in the same run: throughput ratio and p99 latency (targets: >= 60 % of bare, p99 <= 20 ms).
- Gateway RSS after start-up (target <= 60 MB) and time from process start to READY=1 (target <= 1.5 s).

Run: .venv/bin/python bench/bench_api.py [--seconds 5] [--clients 50]
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
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.certs import TestCA  # noqa: E402

BARE_SERVER = """
import ssl, sys
from aiohttp import web
async def handler(request):
    return web.json_response({"status": "ok"})
app = web.Application()
app.router.add_get("/bare", handler)
context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(sys.argv[2], sys.argv[3])
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), ssl_context=context, print=None, access_log=None)
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


async def load(url: str, token: str | None, ssl_context: ssl.SSLContext, clients: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    deadline = time.perf_counter() + seconds

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            async with session.get(url, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    errors += 1
            latencies.append(time.perf_counter() - started)

    connector = aiohttp.TCPConnector(ssl=ssl_context, limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(client(session) for _ in range(10)))  # warm-up of TLS sessions
        latencies.clear()
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(client(session) for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
    }


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
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=50)
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
        started = time.perf_counter()
        gateway = subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--config", str(config)], env=env)
        bare = subprocess.Popen([sys.executable, "-c", BARE_SERVER, str(bare_port), str(cert.cert_file), str(cert.key_file)])
        try:
            wait_ready(notify, 30)
            ready_s = time.perf_counter() - started
            time.sleep(0.5)
            rss_start = rss_mb(gateway.pid)
            wait_port(bare_port, 30)
            bare_result = asyncio.run(load(f"https://127.0.0.1:{bare_port}/bare", None, client_ssl, args.clients, args.seconds))
            gw_result = asyncio.run(
                load(f"https://127.0.0.1:{port}/api/v1/status", token, client_ssl, args.clients, args.seconds)
            )
            rss_after_load = rss_mb(gateway.pid)
        finally:
            for process in (gateway, bare):
                process.terminate()
                process.wait(timeout=10)
            notify.close()
    print(json.dumps({
        "benchmark": "local_api",
        "clients": args.clients,
        "seconds": args.seconds,
        "gateway_status_tls": gw_result,
        "bare_aiohttp_tls": bare_result,
        "throughput_ratio": round(gw_result["rps"] / bare_result["rps"], 3),
        "targets": {"throughput_ratio_min": 0.6, "p99_ms_max": 20, "rss_mb_max": 60, "ready_s_max": 1.5},
        "gateway_rss_mb_after_start": round(rss_start, 1),
        "gateway_rss_mb_after_load": round(rss_after_load, 1),
        "start_to_ready_s": round(ready_s, 3),
        "cpu_count": os.cpu_count(),
    }, indent=2))


if __name__ == "__main__":
    main()
