"""The systemd notify protocol over a real unix datagram socket (as systemd provides it)."""

from __future__ import annotations

import os
import socket
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


def test_ready_stopping_status_watchdog(notify_socket) -> None:
    path, sock = notify_socket
    notifier = SystemdNotifier.from_environ({"NOTIFY_SOCKET": str(path)})
    assert notifier.ready("serving on http://127.0.0.1:1")
    message = receive(sock)
    assert message["READY"] == "1" and message["MAINPID"] == str(os.getpid())
    assert message["STATUS"] == "serving on http://127.0.0.1:1"
    notifier.status("a\nmultiline   status")
    assert receive(sock) == {"STATUS": "a multiline status"}
    notifier.watchdog()
    assert receive(sock) == {"WATCHDOG": "1"}
    notifier.stopping()
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


def test_without_systemd_nothing_is_sent_and_nothing_raises(tmp_path: Path) -> None:
    assert SystemdNotifier.from_environ({}).ready("x") is False
    gone = SystemdNotifier(str(tmp_path / "no-such.sock"))
    assert gone.enabled and gone.watchdog() is False


def test_watchdog_interval_from_environment() -> None:
    env = {"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "4000000", "WATCHDOG_PID": str(os.getpid())}
    assert SystemdNotifier.from_environ(env).watchdog_interval_s == 2.0
    other_pid = dict(env, WATCHDOG_PID="1")
    assert SystemdNotifier.from_environ(other_pid).watchdog_interval_s is None
    assert SystemdNotifier.from_environ({"WATCHDOG_USEC": "junk"}).watchdog_usec is None
