"""The README's two Quick start commands: the demo answers on its address; the test command is CI's."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from tests.support.net import free_port

ROOT = Path(__file__).resolve().parent.parent


def quickstart_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block is not None, "Quick start has no sh code block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_quickstart_has_exactly_two_commands_and_ci_runs_the_second() -> None:
    demo, test = quickstart_commands()
    assert "demo" in demo and "test" in test
    ci = (ROOT / ".ci" / "run").read_text()
    assert test.strip() in ci


def test_demo_command_serves_healthz_and_prints_a_working_token(tmp_path: Path) -> None:
    demo_command = quickstart_commands()[0]
    port = free_port()
    env = dict(os.environ, EDGE_GATEWAY_DEMO_PORT=str(port), EDGE_GATEWAY_DEMO_DIR=str(tmp_path / "demo"))
    log_path = tmp_path / "demo.log"
    log = log_path.open("wb")
    # exec: the shell becomes the command (dev.sh itself execs the gateway), so a signal reaches the
    # gateway as it would from a terminal's Ctrl-C or systemd, not a wrapping shell that dies of it.
    process = subprocess.Popen(f"exec {demo_command}", shell=True, cwd=ROOT, env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 300  # first run on a clean machine installs packages
        health = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    health = json.load(response)
                    break
            except OSError:
                time.sleep(0.3)
        assert health == {"status": "ok"}, "demo did not answer /healthz: " + log_path.read_text()
        text = log_path.read_text()
        assert f"http://127.0.0.1:{port}" in text
        token = re.search(r"Admin token[^\n]*\n(\S+)", text)
        assert token is not None, text
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/status",
                                         headers={"Authorization": f"Bearer {token.group(1)}"})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert json.load(response)["gateway_id"] == "gw-sim-01"
        assert f"Page:  http://127.0.0.1:{port}/" in text
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            assert b"Sign in" in response.read()  # the technician page
        # Ctrl-C in the terminal: SIGINT to the whole foreground process group, children included.
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(timeout=30) == 0, log_path.read_text()
        shutdown = log_path.read_text().split("stop signal received", 1)
        assert len(shutdown) == 2, log_path.read_text()
        for word in ("Traceback", "restarts in", "failed:", "ERROR"):
            assert word not in shutdown[1], f"{word!r} during shutdown:\n{shutdown[1]}"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
