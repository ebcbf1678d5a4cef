"""Control channel of a simulator process: a unix socket taking one command line per connection.

A line is ``state`` (answer: the snapshot) or an injection command such as ``sensor=0:open``
(answer: ``{"ok": true}``); errors answer ``{"ok": false, "error": "..."}``. One JSON line back.

From a shell: ``python -m firmware_bridge.simulator.control SOCKET COMMAND...`` sends each command
in turn and prints each answer (exit status 1 if one was refused, 2 if the simulator is unreachable).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from typing import Any, TextIO

from firmware_bridge.constants import SIM_CONTROL_CLIENT_TIMEOUT_S, SIM_CONTROL_MAX_COMMAND_BYTES
from firmware_bridge.simulator.runtime import Simulator



def run_command(sim: Simulator, line: str) -> dict[str, Any]:
    """Execute one control line against ``sim``."""
    line = line.strip()
    if line == "state":
        return {"ok": True, "state": sim.snapshot()}
    try:
        sim.inject(line)
    except ValueError as exc:
        return {"ok": False, "error": str(exc)}
    return {"ok": True, "slave_path": sim.snapshot()["slave_path"]}


class ControlServer:
    """Serves :func:`run_command` on a unix socket at ``path``."""

    def __init__(self, sim: Simulator, path: str) -> None:
        self._sim = sim
        self.path = path
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        """Listen (replacing a stale socket file)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        self._server = await asyncio.start_unix_server(self._serve, self.path)

    async def stop(self) -> None:
        """Stop listening and remove the socket file."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(SIM_CONTROL_CLIENT_TIMEOUT_S):
                line = await reader.readline()
            answer = run_command(self._sim, line[:SIM_CONTROL_MAX_COMMAND_BYTES].decode("ascii", "replace"))
            writer.write(json.dumps(answer).encode("ascii") + b"\n")
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


async def send_command(path: str, line: str, timeout_s: float = SIM_CONTROL_CLIENT_TIMEOUT_S) -> dict[str, Any]:
    """Send one control line to the simulator listening at ``path``; return its JSON answer."""
    async with asyncio.timeout(timeout_s):
        reader, writer = await asyncio.open_unix_connection(path)
        try:
            writer.write(line.encode("ascii") + b"\n")
            await writer.drain()
            answer: dict[str, Any] = json.loads(await reader.readline())
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
    return answer


async def run_cli(argv: list[str], out: TextIO = sys.stdout) -> int:
    """``SOCKET COMMAND...``: send the commands, print the answers; return the exit status."""
    if len(argv) < 2:
        print("usage: python -m firmware_bridge.simulator.control SOCKET COMMAND...", file=sys.stderr)
        return 2
    path, commands = argv[0], argv[1:]
    status = 0
    for command in commands:
        try:
            answer = await send_command(path, command)
        except (OSError, TimeoutError, ValueError) as exc:
            print(f"simulator at {path} unreachable: {exc}", file=sys.stderr)
            return 2
        print(json.dumps(answer), file=out, flush=True)
        if not answer.get("ok"):
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(asyncio.run(run_cli(sys.argv[1:])))
