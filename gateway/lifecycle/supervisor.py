"""Supervision of the gateway's long-running parts.

A part is an object with a `name` and an async `run()` that works until it is cancelled. If `run()`
raises (or returns early), the supervisor records the error, reports the part as failed in status, and
starts it again after a back-off that doubles up to a cap, with jitter so that parts that failed together
do not retry in lockstep. A part that stayed up for `STABLE_RUN_S` starts again from the first delay.
The API keeps serving while a part is down: failures stay inside the part's task.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from gateway.lifecycle.const import LAST_ERROR_MAX_CHARS, RESTART_JITTER_FRACTION, STABLE_RUN_S

log = logging.getLogger(__name__)


class Part(Protocol):
    """A long-running part of the gateway (serial link, control loop, printer links, sync...)."""

    name: str

    async def run(self) -> None:
        """Work until cancelled. Raising means failure; the supervisor restarts the part."""


@runtime_checkable
class ReportsProblem(Protocol):
    """A part that can be running yet unable to do its job until someone acts (a printer that refused
    our certificate check or access code): it says why, and the gateway is then degraded."""

    def problem(self) -> str | None:
        """Why the part cannot work (``None``: it can)."""


class PartState(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    FAILED = "failed"  # crashed, waiting for its restart
    STOPPED = "stopped"


@dataclass
class PartHealth:
    """What status reports about one part."""

    name: str
    state: PartState = PartState.STARTING
    since: float = 0.0
    restarts: int = 0
    last_error: str | None = None
    next_restart_in_s: float | None = None
    problem: str | None = None
    """A running part's own reason it cannot work (see :class:`ReportsProblem`)."""

    @property
    def up(self) -> bool:
        """Running and able to do its job."""
        return self.state == PartState.RUNNING and self.problem is None


def restart_delay_s(failures_in_a_row: int, *, initial_s: float, max_s: float, rng: Callable[[], float]) -> float:
    """Delay before restart number `failures_in_a_row` (1-based): doubling from initial_s up to max_s, +-20 %."""
    base = min(max_s, initial_s * 2 ** max(0, failures_in_a_row - 1))
    return base * (1 + RESTART_JITTER_FRACTION * (2 * rng() - 1))


class Supervisor:
    """Starts parts in order, restarts them when they fail, and stops them in reverse order."""

    def __init__(
        self,
        *,
        restart_initial_s: float,
        restart_max_s: float,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
        on_change: Callable[[PartHealth], None] | None = None,
    ) -> None:
        self._restart_initial_s = restart_initial_s
        self._restart_max_s = restart_max_s
        self._clock = clock
        self._monotonic = monotonic
        self._rng = rng
        self._on_change = on_change
        self._parts: list[Part] = []
        self._health: dict[str, PartHealth] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stopping = False

    def add(self, part: Part) -> None:
        if part.name in self._health:
            raise ValueError(f"part {part.name!r} added twice")
        self._parts.append(part)
        self._health[part.name] = PartHealth(name=part.name, since=self._clock())

    def health(self) -> list[PartHealth]:
        for part in self._parts:
            if isinstance(part, ReportsProblem):
                self._health[part.name].problem = part.problem()
        return [self._health[p.name] for p in self._parts]

    def start(self) -> None:
        for part in self._parts:
            if part.name not in self._tasks:
                self._tasks[part.name] = asyncio.create_task(self._keep_running(part), name=f"part:{part.name}")

    async def stop(self, timeout_s: float) -> None:
        """Cancel every part, last started first, waiting at most `timeout_s` for each. From here on a
        part that ends is not restarted."""
        self._stopping = True
        for part in reversed(self._parts):
            task = self._tasks.pop(part.name, None)
            if task is None:
                continue
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=timeout_s)
            if not done:
                log.error("part %s did not stop within %.1f s", part.name, timeout_s)
            self._set(part.name, PartState.STOPPED)

    def _set(self, name: str, state: PartState, **changes: object) -> None:
        health = self._health[name]
        health.state = state
        health.since = self._clock()
        for key, value in changes.items():
            setattr(health, key, value)
        if self._on_change is not None:
            self._on_change(health)

    async def _keep_running(self, part: Part) -> None:
        failures_in_a_row = 0
        while True:
            self._set(part.name, PartState.RUNNING, next_restart_in_s=None)
            started = self._monotonic()
            try:
                await part.run()
                error = "stopped unexpectedly"
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a part's failure must never reach the event loop
                error = f"{type(exc).__name__}: {exc}"[:LAST_ERROR_MAX_CHARS]
                log.error("part %s failed: %s", part.name, error, exc_info=exc)
            if self._stopping:
                log.info("part %s ended during shutdown (%s); not restarted", part.name, error)
                return
            if self._monotonic() - started >= STABLE_RUN_S:
                failures_in_a_row = 0
            failures_in_a_row += 1
            delay = restart_delay_s(
                failures_in_a_row, initial_s=self._restart_initial_s, max_s=self._restart_max_s, rng=self._rng
            )
            health = self._health[part.name]
            self._set(part.name, PartState.FAILED, last_error=error, next_restart_in_s=round(delay, 3))
            log.warning("part %s restarts in %.1f s", part.name, delay)
            await asyncio.sleep(delay)
            health.restarts += 1
