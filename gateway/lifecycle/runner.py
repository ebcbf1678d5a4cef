"""Running the service: start in order, READY=1, wait for SIGTERM/SIGINT, stop in reverse order, exit 0."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable

from gateway.config.models import GatewayConfig
from gateway.factory import Gateway, create_gateway
from gateway.http.server import BindError
from gateway.lifecycle.notify import SystemdNotifier

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
LEFTOVER_TASK_WAIT_S = 1.0

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
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    try:
        try:
            gateway = await create_gateway(config, notifier=notifier)
            await gateway.start()
        except (BindError, OSError) as exc:
            log.error("start-up failed: %s", exc)
            notifier.status(f"start-up failed: {exc}")
            return EXIT_STARTUP_FAILED
        notifier.ready(f"serving on {', '.join(gateway.urls)}")
        if on_ready is not None:
            result = on_ready(gateway)
            if result is not None:
                await result
        await stop.wait()
        log.info("stop signal received; shutting down")
        notifier.stopping("shutting down")
        await gateway.stop()
        await _cancel_leftover_tasks()
        log.info("stopped")
        return EXIT_OK
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)


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
