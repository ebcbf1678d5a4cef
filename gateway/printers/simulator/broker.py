"""A local mosquitto broker with TLS, a password file and an ACL (tests, demo, benchmark).

Listens on one loopback port. `bblp` (the gateway) may only read reports and write requests; the
simulator user may only write reports and read requests, like a printer's own broker would allow.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from gateway.printers.const import MQTT_USERNAME

SIMULATOR_USERNAME = "simulator"
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
LISTEN_POLL_S = 0.05
PR_SET_PDEATHSIG = 1  # prctl option (linux/prctl.h)

ACL = f"""user {MQTT_USERNAME}
topic read device/+/report
topic write device/+/request

user {SIMULATOR_USERNAME}
topic write device/+/report
topic read device/+/request
"""


@dataclass(frozen=True)
class BrokerFiles:
    cert_file: Path
    key_file: Path


class Mosquitto:
    """One mosquitto process; `start()`, `stop()`, `restart()` (same port, same files)."""

    def __init__(self, directory: Path, port: int, files: BrokerFiles, *, access_code: str,
                 simulator_password: str, host: str = "127.0.0.1") -> None:
        self.directory = directory
        self.host = host
        self.port = port
        self.files = files
        self.access_code = access_code
        self.simulator_password = simulator_password
        self.process: subprocess.Popen[bytes] | None = None
        self.log_file = directory / "mosquitto.log"

    def _write_config(self) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        passwd = self.directory / "passwd"
        passwd.unlink(missing_ok=True)
        tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
        subprocess.run([tool, "-c", "-b", str(passwd), MQTT_USERNAME, self.access_code], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run([tool, "-b", str(passwd), SIMULATOR_USERNAME, self.simulator_password], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        acl = self.directory / "acl"
        acl.write_text(ACL)
        conf = self.directory / "mosquitto.conf"
        # Started as root, mosquitto drops to the user "mosquitto", who cannot read these private files.
        run_as = "user root\n" if os.geteuid() == 0 else ""
        conf.write_text(
            f"{run_as}"
            "persistence false\n"
            f"log_dest file {self.log_file}\n"
            "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
            "connection_messages true\n"
            f"listener {self.port} {self.host}\n"
            "protocol mqtt\n"
            f"certfile {self.files.cert_file}\n"
            f"keyfile {self.files.key_file}\n"
            "allow_anonymous false\n"
            f"password_file {passwd}\n"
            f"acl_file {acl}\n"
            "max_packet_size 1048576\n"
        )
        return conf

    def spawn(self) -> None:
        """Start the process (it dies with the process that spawned it); `listening()` says when it is up."""
        conf = self._write_config()
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.process = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True,
                                        preexec_fn=die_with_parent)

    def listening(self) -> bool:
        """True once the broker accepts connections; raises if it exited."""
        if self.process is None or self.process.poll() is not None:
            code = None if self.process is None else self.process.returncode
            raise RuntimeError(f"mosquitto exited with {code}: {self.log_tail()}")
        try:
            with socket.create_connection((self.host, self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def start(self) -> None:
        self.spawn()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.listening():
                return
            time.sleep(LISTEN_POLL_S)
        self.stop()
        raise RuntimeError(f"mosquitto did not listen on {self.host}:{self.port}: {self.log_tail()}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    async def start_async(self) -> None:
        """`start()` for a test's event loop: spawned from the loop's own thread (the broker dies with the
        thread that spawned it, see `die_with_parent`), then polled without blocking the loop."""
        self.spawn()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT_S
        while loop.time() < deadline:
            if self.listening():
                return
            await asyncio.sleep(LISTEN_POLL_S)
        self.stop()
        raise RuntimeError(f"mosquitto did not listen on {self.host}:{self.port}: {self.log_tail()}")

    async def restart_async(self, down_s: float = 0.0) -> None:
        """Stop the broker, stay down `down_s` seconds, start it again on the same port: the simulated
        printers reconnect by themselves (client.RECONNECT_S)."""
        await asyncio.to_thread(self.stop)
        if down_s > 0:
            await asyncio.sleep(down_s)
        await self.start_async()

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_file.read_text()[-chars:]
        except OSError:
            return ""

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None


def die_with_parent() -> None:
    """In a child before exec: get SIGTERM when the parent dies (Linux), so no broker outlives its gateway."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def secret_file(path: Path, value: str) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return path
