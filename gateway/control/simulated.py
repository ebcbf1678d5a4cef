"""The simulated site's controller board: ``python -m firmware_bridge.simulator`` as a supervised part.

It runs on a pty whose stable symlink (and fault-injection socket) live in the state directory; the
control process opens the symlink as its serial port. Started through :mod:`gateway.control.guard`,
so it dies with the gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from pathlib import Path

from gateway.control.io_const import (
    PROCESS_STOP_TIMEOUT_S,
    SIMULATOR_CONTROL_NAME,
    SIMULATOR_LINK_NAME,
    SIMULATOR_START_TIMEOUT_S,
)
from gateway.control.settings import ExtruderSection

log = logging.getLogger(__name__)


class SimulatedController:
    """Supervised part ``extruder-sim``."""

    name = "extruder-sim"

    def __init__(self, settings: ExtruderSection, state_dir: Path, *, python: str = sys.executable) -> None:
        self.link_path = state_dir / SIMULATOR_LINK_NAME
        self.control_path = state_dir / SIMULATOR_CONTROL_NAME
        self._args = [
            "--zones", str(len(settings.zones)), "--speed", str(settings.simulator_speed),
            "--link", str(self.link_path), "--control", str(self.control_path),
        ]
        self._python = python
        self.pty_path: str | None = None

    async def run(self) -> None:
        proc = await asyncio.create_subprocess_exec(
            self._python, "-m", "gateway.control.guard", str(os.getpid()), "--",
            self._python, "-m", "firmware_bridge.simulator", *self._args,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            start_new_session=True,  # a terminal's Ctrl-C stops the gateway, which stops this process
        )
        assert proc.stdout is not None
        try:
            async with asyncio.timeout(SIMULATOR_START_TIMEOUT_S):
                first = await proc.stdout.readline()
            self.pty_path = first.decode(errors="replace").strip() or None
            log.info("simulated extruder controller on %s (link %s)", self.pty_path, self.link_path)
            while line := await proc.stdout.readline():  # each replug prints the new pty
                self.pty_path = line.decode(errors="replace").strip()
            code = await proc.wait()
            raise RuntimeError(f"simulated controller exited with status {code}")
        finally:
            self.pty_path = None
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
                try:
                    async with asyncio.timeout(PROCESS_STOP_TIMEOUT_S):
                        await proc.wait()
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                    await proc.wait()
