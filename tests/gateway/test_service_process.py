"""The real service process: READY/WATCHDOG/STOPPING on a test NOTIFY_SOCKET, SIGTERM under load exits 0."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from tests.support.net import free_port
from tests.support.notify import NotifyListener

SIGTERM_EXIT_LIMIT_S = 5.0


def write_config(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[gateway]\nid = "gw-proc-01"\nstate_dir = "{tmp_path / "state"}"\n'
        f'[http]\nlisten = [{{ host = "127.0.0.1", port = {port} }}]\n'
    )
    return path


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True, text=True, timeout=60)


async def hammer(url: str, token: str, stop: asyncio.Event, concurrency: int = 20) -> int:
    done = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal done
        while not stop.is_set():
            try:
                async with session.get(url, headers={"Authorization": f"Bearer {token}"}) as resp:
                    await resp.read()
                    done += 1
            except aiohttp.ClientError:
                await asyncio.sleep(0.01)

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return done


async def test_sigterm_under_load_exits_0_with_notify_messages(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, port)
    issued = cli("token", "issue", "--config", str(config), "--sub", "loadtest", "--role", "viewer", "--ttl", "1h")
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()

    listener = NotifyListener(tmp_path / "notify.sock")
    env = dict(os.environ, NOTIFY_SOCKET=str(tmp_path / "notify.sock"), WATCHDOG_USEC="400000")
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )
    try:
        ready = listener.wait_for("READY", 15)
        assert ready["MAINPID"] == str(process.pid)
        assert f"127.0.0.1:{port}" in ready["STATUS"]
        listener.wait_for("WATCHDOG", 3)

        stop = asyncio.Event()
        load = asyncio.create_task(hammer(f"http://127.0.0.1:{port}/api/v1/status", token, stop))
        await asyncio.sleep(1.0)
        process.send_signal(signal.SIGTERM)
        sigterm_at = time.monotonic()
        code = await asyncio.to_thread(process.wait, SIGTERM_EXIT_LIMIT_S + 5)
        exit_s = time.monotonic() - sigterm_at
        stop.set()
        served = await load
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stopping = listener.wait_for("STOPPING", 1)
    listener.close()
    stderr = process.stderr.read().decode() if process.stderr else ""
    assert code == 0, stderr
    assert exit_s < SIGTERM_EXIT_LIMIT_S, exit_s
    assert served > 0
    assert stopping["STOPPING"] == "1"
    assert "tasks still running at shutdown" not in stderr
    assert "threads still running at shutdown" not in stderr  # aiosqlite's thread ended with the database
    assert "Traceback" not in stderr
    with socket.socket() as probe:  # nothing listens any more
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    assert time.monotonic() - started < 60


def test_startup_failure_is_reported_plainly(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        config = write_config(tmp_path, taken.getsockname()[1])
        result = subprocess.run([sys.executable, "-m", "gateway", "serve", "--config", str(config)],
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "cannot listen on 127.0.0.1" in result.stderr
    assert "Traceback" not in result.stderr


def test_unsafe_keys_directory_is_reported_plainly(tmp_path: Path) -> None:
    config = write_config(tmp_path, free_port())
    keys = tmp_path / "state" / "keys"
    keys.mkdir(parents=True)
    keys.chmod(0o777)  # other users could plant a signing key
    result = subprocess.run([sys.executable, "-m", "gateway", "serve", "--config", str(config)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "start-up failed" in result.stderr and "writable by other users" in result.stderr
    assert "Traceback" not in result.stderr


def test_sigint_stops_cleanly_too(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, port)
    listener = NotifyListener(tmp_path / "notify.sock")
    env = dict(os.environ, NOTIFY_SOCKET=str(tmp_path / "notify.sock"))
    process = subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--config", str(config)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        listener.wait_for("READY", 15)
        process.send_signal(signal.SIGINT)  # Ctrl-C in a terminal
        code = process.wait(timeout=SIGTERM_EXIT_LIMIT_S + 5)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert listener.wait_for("STOPPING", 1)["STOPPING"] == "1"
    listener.close()
    stderr = process.stderr.read().decode() if process.stderr else ""
    assert code == 0, stderr
    assert "stopped" in stderr and "Traceback" not in stderr and "still running at shutdown" not in stderr
