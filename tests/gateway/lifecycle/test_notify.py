"""The systemd notify protocol over a real unix datagram socket (as systemd provides it)."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from pathlib import Path

import pytest

from gateway.lifecycle.notify import SystemdNotifier


@pytest.fixture
def notify_socket(tmp_path: Path):
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(2)
    yield path, sock
    sock.close()


def receive(sock: socket.socket) -> dict[str, str]:
    data = sock.recv(4096).decode()
    return dict(line.split("=", 1) for line in data.splitlines())


async def test_ready_stopping_status_watchdog(notify_socket) -> None:
    path, sock = notify_socket
    notifier = SystemdNotifier.from_environ({"NOTIFY_SOCKET": str(path)})
    assert await notifier.ready("serving on http://127.0.0.1:1")
    message = receive(sock)
    assert message["READY"] == "1" and message["MAINPID"] == str(os.getpid())
    assert message["STATUS"] == "serving on http://127.0.0.1:1"
    notifier.status("a\nmultiline   status")
    assert receive(sock) == {"STATUS": "a multiline status"}
    notifier.watchdog()
    assert receive(sock) == {"WATCHDOG": "1"}
    assert await notifier.stopping()
    assert receive(sock)["STOPPING"] == "1"
    notifier.close()


def test_abstract_socket_address() -> None:
    name = f"edge-gateway-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(2)
    try:
        SystemdNotifier(f"@{name}").watchdog()
        assert sock.recv(100) == b"WATCHDOG=1"
    finally:
        sock.close()


async def test_without_systemd_nothing_is_sent_and_nothing_raises(tmp_path: Path) -> None:
    assert await SystemdNotifier.from_environ({}).ready("x") is False
    gone = SystemdNotifier(str(tmp_path / "no-such.sock"))
    assert gone.enabled and gone.watchdog() is False
    started = time.monotonic()
    assert await gone.ready("x") is False  # a socket that is gone is not retried
    assert time.monotonic() - started < 1.0 and gone.state_retries == 0


def fill_queue(notifier: SystemdNotifier) -> int:
    """Send WATCHDOG=1 until the manager's queue is full (it reads nothing meanwhile)."""
    sent = 0
    while notifier.watchdog():
        sent += 1
        assert sent < 10_000, "the queue never filled"
    return sent


def drain(sock: socket.socket) -> list[dict[str, str]]:
    messages = []
    sock.setblocking(False)
    try:
        while True:
            data = sock.recv(4096).decode()
            messages.append(dict(line.split("=", 1) for line in data.splitlines()))
    except BlockingIOError:
        return messages


async def test_state_messages_wait_for_a_lagging_manager(notify_socket) -> None:
    """READY=1 and STOPPING=1 are retried while the queue is full; the event loop keeps running."""
    path, sock = notify_socket
    notifier = SystemdNotifier(str(path))
    queued = fill_queue(notifier)
    assert queued >= 1
    ticks = 0

    async def other_work() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    ticker = asyncio.create_task(other_work())
    ready = asyncio.create_task(notifier.ready("serving"))
    await asyncio.sleep(0.3)  # the manager lags...
    assert not ready.done() and notifier.state_retries >= 3
    assert ticks >= 10  # ...and the loop is not blocked while READY=1 waits
    first = drain(sock)  # the manager catches up
    assert await asyncio.wait_for(ready, 5) is True
    ticker.cancel()
    later = drain(sock)
    assert len(first) == queued and all(m == {"WATCHDOG": "1"} for m in first)
    assert [m.get("READY") for m in later] == ["1"]
    notifier.close()


async def test_state_retry_is_bounded(notify_socket) -> None:
    path, sock = notify_socket
    notifier = SystemdNotifier(str(path), state_retry_total_s=0.2)
    fill_queue(notifier)
    started = time.monotonic()
    assert await notifier.stopping() is False  # nobody reads: given up after the bound
    assert 0.15 <= time.monotonic() - started < 2.0
    assert all("STOPPING" not in m for m in drain(sock))
    notifier.close()


def test_watchdog_interval_from_environment() -> None:
    env = {"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "4000000", "WATCHDOG_PID": str(os.getpid())}
    assert SystemdNotifier.from_environ(env).watchdog_interval_s == 2.0
    other_pid = dict(env, WATCHDOG_PID="1")
    assert SystemdNotifier.from_environ(other_pid).watchdog_interval_s is None
    assert SystemdNotifier.from_environ({"WATCHDOG_USEC": "junk"}).watchdog_usec is None
