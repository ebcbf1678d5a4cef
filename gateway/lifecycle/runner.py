"""Running the service: start in order, READY=1, wait for SIGTERM/SIGINT, stop in reverse order, exit 0."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable

from gateway.auth.errors import KeyringError
from gateway.config.models import GatewayConfig
from gateway.factory import Gateway, create_gateway
from gateway.http.server import BindError
from gateway.lifecycle.const import LEFTOVER_TASK_WAIT_S, LEFTOVER_THREAD_WAIT_S
from gateway.lifecycle.notify import SystemdNotifier
from gateway.lifecycle.stall_hook import StallHook, install_stall_hook, remove_stall_hook
from gateway.statedb.migrate import SchemaTooNewError

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# Start-up failures with a cause the operator can fix from the message alone (no traceback needed).
EXPECTED_STARTUP_ERRORS = (BindError, OSError, KeyringError, sqlite3.Error, SchemaTooNewError)

EXIT_OK = 0
EXIT_STARTUP_FAILED = 1


async def run_service(
    config: GatewayConfig,
    notifier: SystemdNotifier,
    *,
    on_ready: Callable[[Gateway], Awaitable[None] | None] | None = None,
) -> int:
    """Serve until a stop signal. Returns the process exit code."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    hook: StallHook | None = None
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    try:
        try:
            gateway = await create_gateway(config, notifier=notifier)
            await gateway.start()
        except EXPECTED_STARTUP_ERRORS as exc:
            log.error("start-up failed: %s", exc)
            notifier.status(f"start-up failed: {exc}")
            return EXIT_STARTUP_FAILED
        except Exception as exc:
            log.exception("start-up failed: %s: %s", type(exc).__name__, exc)
            notifier.status(f"start-up failed: {type(exc).__name__}: {exc}")
            return EXIT_STARTUP_FAILED
        hook = install_stall_hook(loop, gateway.watchdog, os.environ)  # tests only; see stall_hook.py
        await notifier.ready(f"serving on {', '.join(gateway.urls)}")
        if on_ready is not None:
            result = on_ready(gateway)
            if result is not None:
                await result
        await stop.wait()
        log.info("stop signal received; shutting down")
        # STOPPING=1 goes out while the parts stop: a lagging manager must not delay the shutdown.
        stopping = asyncio.create_task(notifier.stopping("shutting down"), name="notify:stopping")
        await gateway.stop()
        await stopping
        await _cancel_leftover_tasks()
        await loop.shutdown_default_executor()  # its threads (name lookups) end here, not after the check
        _report_leftover_threads()
        log.info("stopped")
        return EXIT_OK
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
        remove_stall_hook(loop, hook)
        notifier.close()


async def _cancel_leftover_tasks() -> None:
    """Every part should be gone by now; anything still running is a bug, logged and cancelled."""
    current = asyncio.current_task()
    leftovers = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    if not leftovers:
        return
    log.warning("tasks still running at shutdown: %s", ", ".join(t.get_name() for t in leftovers))
    for task in leftovers:
        task.cancel()
    await asyncio.wait(leftovers, timeout=LEFTOVER_TASK_WAIT_S)


def _report_leftover_threads() -> None:
    """Every thread (aiosqlite's connection threads) should have ended with its part; log any that did not.

    A thread that is just returning after its connection closed gets LEFTOVER_THREAD_WAIT_S in all.
    """
    deadline = time.monotonic() + LEFTOVER_THREAD_WAIT_S
    leftovers = [t for t in threading.enumerate() if t is not threading.current_thread() and t.is_alive()]
    for thread in leftovers:
        thread.join(max(0.0, deadline - time.monotonic()))
    leftovers = [t for t in leftovers if t.is_alive()]
    if leftovers:
        log.warning("threads still running at shutdown: %s", ", ".join(t.name for t in leftovers))
