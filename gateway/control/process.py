"""The control process: owns the serial link and the GPIO and runs the fixed-rate loop.

Started by the gateway (:mod:`gateway.control.client`) with one end of a socketpair. It ends, with
every heater and the motor commanded off and the interlock open, when:

- the gateway goes away: EOF on the socket, or ``SIGTERM`` from ``PR_SET_PDEATHSIG`` when the parent
  dies (even by ``SIGKILL``);
- the loop dies (an exception in a period): exit status 1, the gateway restarts the process;
- it is told to stop (``SIGTERM``/``SIGINT``).

If the process itself is killed outright, the controller's heartbeat turns the heaters off after
``hb`` ms without an ``OUT`` frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time

from firmware_bridge.link import SerialLink
from gateway.control.commands import CommandHandler
from gateway.control.gpio import GpioPanel, make_pin_factory
from gateway.control.guard import set_parent_death_signal
from gateway.control.io_const import IPC_LINE_MAX_BYTES
from gateway.control.ipc import (
    Configure,
    EventMessage,
    IpcError,
    ReplyMessage,
    RequestCommand,
    StateMessage,
    decode_command,
    encode,
    read_line,
)
from gateway.control.loop import ControlLoop
from gateway.control.pid import PidGains
from gateway.control.snapshot import build_state

log = logging.getLogger("gateway.control.process")

STATE_BUFFER_MAX_BYTES = 64 * 1024
"""State messages are skipped (counted) while this much is queued for a gateway that does not read."""
LINK_STOP_TIMEOUT_S = 2.0
EXIT_OK = 0
EXIT_LOOP_DIED = 1
EXIT_BAD_START = 2


def enable_realtime(priority: int) -> None:
    """SCHED_FIFO at ``priority`` (best effort: needs CAP_SYS_NICE)."""
    if priority <= 0:
        return
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
        log.info("control process runs SCHED_FIFO priority %d", priority)
    except (OSError, AttributeError) as exc:
        log.warning("SCHED_FIFO priority %d not granted (%s); normal scheduling", priority, exc)


class ControlProcess:
    """One run of the control process over an IPC connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self.states_dropped = 0
        self._loop: ControlLoop | None = None

    def _send(self, message: StateMessage | EventMessage | ReplyMessage, *, droppable: bool = False) -> None:
        if self._writer.is_closing():
            return
        transport = self._writer.transport
        if droppable and transport.get_write_buffer_size() > STATE_BUFFER_MAX_BYTES:
            self.states_dropped += 1
            return
        self._writer.write(encode(message))

    async def run(self) -> int:
        first = await read_line(self._reader)
        if first is None:
            return EXIT_BAD_START
        try:
            config = decode_command(first)
        except IpcError as exc:
            log.error("first IPC message refused: %s", exc)
            return EXIT_BAD_START
        if not isinstance(config, Configure):
            log.error("first IPC message must be 'configure', got %r", config.op)
            return EXIT_BAD_START
        return await self._serve(config)

    async def _serve(self, config: Configure) -> int:
        settings = config.settings
        enable_realtime(settings.realtime_priority)
        aio = asyncio.get_running_loop()
        holder: list[ControlLoop] = []

        def estop_pressed() -> None:  # gpiozero's thread
            if holder:
                aio.call_soon_threadsafe(holder[0].emergency_stop, "e-stop input")

        gpio = GpioPanel(settings.gpio, make_pin_factory(settings.gpio), on_estop=estop_pressed)
        link = SerialLink(config.port, len(settings.zones), telemetry_period_ms=settings.link_telemetry_ms,
                          loss=settings.loss_limits())
        gains = {zone: PidGains(g.kp, g.ki, g.kd) for zone, g in config.gains.items()}
        control = ControlLoop(
            settings, link, gpio, gains=gains,
            on_period=lambda now: self._send(StateMessage(state=build_state(control, now, time.time())),
                                             droppable=True),
            on_event=lambda event, zone, details: self._send(EventMessage(event=event, zone=zone,  # type: ignore[arg-type]
                                                                          details=details)),
        )
        holder.append(control)
        self._loop = control
        handler = CommandHandler(control)
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            aio.add_signal_handler(sig, stop.set)
        await link.start()
        loop_task = asyncio.create_task(control.run(), name="control-loop")
        ipc_task = asyncio.create_task(self._commands(handler), name="ipc")
        stop_task = asyncio.create_task(stop.wait(), name="stop")
        exit_code = EXIT_OK
        try:
            done, _ = await asyncio.wait({loop_task, ipc_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
            if loop_task in done:
                exc = loop_task.exception()
                log.error("control loop died: %r", exc)
                exit_code = EXIT_LOOP_DIED
            elif ipc_task in done:
                log.warning("gateway gone (IPC closed): heaters and motor off, exiting")
            else:
                log.info("stop requested: heaters and motor off, exiting")
        finally:
            for task in (loop_task, ipc_task, stop_task):
                task.cancel()
            with contextlib.suppress(BaseException):
                await loop_task
            gpio.safe()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(LINK_STOP_TIMEOUT_S):
                    await link.stop()  # OUT all 0, MOTOR 0, telemetry off, port closed
            gpio.close()
            self._writer.close()
        return exit_code

    async def _commands(self, handler: CommandHandler) -> None:
        tasks: set[asyncio.Task[None]] = set()
        while True:
            line = await read_line(self._reader)
            if line is None:
                return
            try:
                cmd = decode_command(line)
            except IpcError as exc:
                log.error("IPC command refused: %s", exc)
                continue
            if isinstance(cmd, Configure):
                log.error("IPC 'configure' only allowed first")
                continue
            task = asyncio.create_task(self._answer(handler, cmd))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    async def _answer(self, handler: CommandHandler, cmd: RequestCommand) -> None:
        try:
            reply = await handler.handle(cmd)
        except Exception as exc:  # a failed command must never take the loop down
            log.exception("command %s failed", cmd.op)
            reply = ReplyMessage(id=cmd.id, ok=False, code="internal", message=f"{type(exc).__name__}: {exc}"[:200])
        if self._loop is not None:
            # The state after the command goes first, so a read that follows the reply shows the write.
            self._send(StateMessage(state=build_state(self._loop, self._loop.clock(), time.time())))
        self._send(reply)


async def serve_fd(fd: int) -> int:
    sock = socket.socket(fileno=fd)
    reader, writer = await asyncio.open_unix_connection(sock=sock, limit=IPC_LINE_MAX_BYTES)
    return await ControlProcess(reader, writer).run()


def main(ipc_fd: int, parent_pid: int) -> int:
    set_parent_death_signal(signal.SIGTERM)
    if os.getppid() != parent_pid:  # the parent died before the death signal was armed
        return EXIT_BAD_START
    return asyncio.run(serve_fd(ipc_fd))
