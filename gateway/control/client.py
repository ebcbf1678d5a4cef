"""The gateway's side of the extruder: a supervised part that runs the control process.

``run()`` spawns ``python -m gateway.control`` with one end of a socketpair, sends it the
``[extruder]`` section (plus stored autotune gains), then keeps the latest state it publishes, hands
samples to the telemetry store (decimated), writes its fault and autotune events to the audit log and
relays the API's commands. If the process exits, ``run()`` raises and the supervisor restarts it; the
API answers 503 meanwhile. Closing the socket (gateway stop, or its death) makes the process turn
every heater and the motor off and exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from gateway.audit.model import AuditEvent
from gateway.control.gains_store import GainsStore
from gateway.control.io_const import (
    GAINS_FILE_NAME,
    IPC_LINE_MAX_BYTES,
    IPC_REPLY_TIMEOUT_S,
    PROCESS_START_TIMEOUT_S,
    PROCESS_STOP_TIMEOUT_S,
    STARTUP_GRACE_S,
    STATE_STALE_S,
)
from gateway.control.ipc import (
    Configure,
    EventMessage,
    IpcError,
    ReplyMessage,
    RequestCommand,
    StateMessage,
    decode_message,
    encode,
    read_line,
)
from gateway.control.settings import ExtruderSection
from gateway.control.state import ExtruderState, GainsView
from gateway.lifecycle.watchdog import Liveness
from gateway.telemetry.sink import Sample, TelemetrySink

log = logging.getLogger(__name__)

TELEMETRY_SOURCE = "extruder"
AUDIT_ACTOR = "system:extruder"


class ControlUnavailable(Exception):
    """The control process is not running (or did not answer)."""


class AuditSink(Protocol):
    """What the client needs of the audit log (``gateway.audit.store.AuditLog`` is one)."""

    async def append(self, event: AuditEvent) -> Any:
        """Append one entry."""


class ExtruderClient:
    """Supervised part ``extruder``: the control process and the gateway's view of it."""

    name = "extruder"

    def __init__(
        self,
        settings: ExtruderSection,
        *,
        state_dir: Path,
        audit: AuditSink,
        sink: TelemetrySink | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        python: str = sys.executable,
        log_level: str = "info",
        log_format: str = "text",
    ) -> None:
        self.settings = settings
        self.port = settings.port_path(state_dir)
        self.gains = GainsStore(state_dir / GAINS_FILE_NAME)
        self._audit = audit
        self._sink = sink
        self._clock = clock
        self._monotonic = monotonic
        self._python = python
        self._log_args = ["--log-level", log_level, "--log-format", log_format]
        self.latest: ExtruderState | None = None
        self.latest_at: float | None = None
        self.pid: int | None = None
        self.spawns = 0
        self.last_exit: str | None = None
        self.events_seen = 0
        self._created_at = monotonic()
        self._writer: asyncio.StreamWriter | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[ReplyMessage]] = {}
        self._next_sample_at = 0.0
        self._background: set[asyncio.Task[None]] = set()

    # --- the part --------------------------------------------------------------------------
    async def run(self) -> None:
        parent, child = socket.socketpair()
        try:
            proc = await asyncio.create_subprocess_exec(
                self._python, "-m", "gateway.control", "--ipc-fd", str(child.fileno()),
                "--parent-pid", str(os.getpid()), *self._log_args,
                pass_fds=(child.fileno(),), stdin=asyncio.subprocess.DEVNULL,
                # Its own session: a terminal's Ctrl-C (SIGINT to the foreground process group) reaches the
                # gateway only, which stops this process in order; it never exits early to be restarted.
                start_new_session=True,
            )
        except BaseException:
            parent.close()
            raise
        finally:
            child.close()
        self.pid = proc.pid
        self.spawns += 1
        reader, writer = await asyncio.open_unix_connection(sock=parent, limit=IPC_LINE_MAX_BYTES)
        try:
            writer.write(encode(Configure(settings=self.settings, port=self.port, gains=self.gains.load())))
            await writer.drain()
            self._writer = writer
            await self._pump(reader)
            async with asyncio.timeout(PROCESS_STOP_TIMEOUT_S):
                code = await proc.wait()
            self.last_exit = f"control process exited with status {code}"
            raise RuntimeError(self.last_exit)
        finally:
            self._writer = None
            self.latest = None
            self.latest_at = None
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ControlUnavailable("control process went away"))
            self._pending.clear()
            writer.close()  # the process sees EOF: heaters and motor off, exit
            await self._reap(proc)

    async def _reap(self, proc: asyncio.subprocess.Process) -> None:
        try:
            async with asyncio.timeout(PROCESS_STOP_TIMEOUT_S):
                await proc.wait()
        except TimeoutError:
            log.error("control process %s did not exit; killing it (controller heartbeat turns heaters off)", proc.pid)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        self.pid = None

    async def _pump(self, reader: asyncio.StreamReader) -> None:
        first = True
        while True:
            try:
                if first:
                    async with asyncio.timeout(PROCESS_START_TIMEOUT_S):
                        line = await read_line(reader)
                else:
                    line = await read_line(reader)
                if line is None:
                    return
                message = decode_message(line)
            except IpcError as exc:
                log.error("control process sent a bad message: %s", exc)
                continue
            first = False
            if isinstance(message, StateMessage):
                self._on_state(message.state)
            elif isinstance(message, ReplyMessage):
                future = self._pending.pop(message.id, None)
                if future is not None and not future.done():
                    future.set_result(message)
            else:
                self._on_event(message)

    def _on_state(self, state: ExtruderState) -> None:
        self.latest = state
        now = self._monotonic()
        self.latest_at = now
        if self._sink is None or now < self._next_sample_at:
            return
        self._next_sample_at = now + max(self.settings.telemetry_period_s, self.settings.period_s)
        ts = state.ts
        for zone in state.zones:
            prefix = f"zone{zone.zone}"
            if zone.temp_c is not None:
                self._sink.put(Sample(ts, TELEMETRY_SOURCE, f"{prefix}.temp_c", zone.temp_c))
            if zone.setpoint_c is not None:
                self._sink.put(Sample(ts, TELEMETRY_SOURCE, f"{prefix}.setpoint_c", zone.setpoint_c))
            self._sink.put(Sample(ts, TELEMETRY_SOURCE, f"{prefix}.output", zone.output))
        self._sink.put(Sample(ts, TELEMETRY_SOURCE, "motor.rpm", state.motor.rpm))
        self._sink.put(Sample(ts, TELEMETRY_SOURCE, "melt.bar", state.motor.bar))

    def _on_event(self, message: EventMessage) -> None:
        self.events_seen += 1
        target = "extruder" if message.zone is None else f"zone{message.zone}"
        if message.event == "fault":
            action, outcome = "extruder.fault", "latched"
            log.warning("extruder fault latched on %s: %s", target, message.details)
        elif message.event == "autotune_done":
            action, outcome = "extruder.autotune", "done"
            assert message.zone is not None
            d = message.details
            try:
                self.gains.save(message.zone, GainsView(kp=d["kp"], ki=d["ki"], kd=d["kd"]))
            except (OSError, KeyError, ValueError) as exc:
                outcome = "done, not stored"
                log.error("autotune gains of zone %s not stored: %s", message.zone, exc)
        else:
            action, outcome = "extruder.autotune", "aborted"
        event = AuditEvent(action=action, outcome=outcome, actor=AUDIT_ACTOR, jti=None, client="local",
                           target=target, details=dict(message.details))
        task = asyncio.create_task(self._append_audit(event))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _append_audit(self, event: AuditEvent) -> None:
        try:
            await self._audit.append(event)
        except Exception:
            log.exception("audit entry for %s could not be written", event.action)

    # --- for the API, status and the watchdog ----------------------------------------------
    async def request(self, command: type[RequestCommand], **fields: Any) -> ReplyMessage:
        """Send one command; its reply. Raises :class:`ControlUnavailable`."""
        writer = self._writer
        if writer is None or self.latest is None:
            raise ControlUnavailable("the extruder control process is not running")
        cmd_id = next(self._ids)
        message = command(id=cmd_id, **fields)
        future: asyncio.Future[ReplyMessage] = asyncio.get_running_loop().create_future()
        self._pending[cmd_id] = future
        try:
            writer.write(encode(message))
            async with asyncio.timeout(IPC_REPLY_TIMEOUT_S):
                return await future
        except TimeoutError:
            raise ControlUnavailable("the extruder control process did not answer") from None
        except ConnectionError:
            raise ControlUnavailable("the extruder control process went away") from None
        finally:
            self._pending.pop(cmd_id, None)

    def state_age_s(self) -> float | None:
        return None if self.latest_at is None else self._monotonic() - self.latest_at

    def liveness(self) -> Liveness:
        """Watchdog check: the control loop published a state recently and says it is alive."""
        age = self.state_age_s()
        if age is None:
            if self.spawns <= 1 and self._monotonic() - self._created_at < STARTUP_GRACE_S:
                return Liveness(True)
            return Liveness(False, "extruder control process not running")
        if age > STATE_STALE_S:
            return Liveness(False, f"extruder control loop silent for {age:.1f} s")
        if self.latest is not None and not self.latest.loop_alive:
            return Liveness(False, "extruder control loop stopped")
        return Liveness(True)

    def status_detail(self) -> dict[str, Any]:
        """Figures for the extruder's entry in /api/v1/status parts."""
        state = self.latest
        detail: dict[str, Any] = {"pid": self.pid, "spawns": self.spawns, "last_exit": self.last_exit,
                                  "port": self.port}
        if state is None:
            return {**detail, "running": False}
        return {
            **detail, "running": True, "link": state.link.state, "loop_alive": state.loop_alive,
            "faults": [f.code for f in state.faults],
            "zones": {z.zone: z.state for z in state.zones},
            "timing": state.timing.model_dump(),
        }
