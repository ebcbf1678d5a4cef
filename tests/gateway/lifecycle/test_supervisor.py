"""Supervised parts: a failing part is restarted with back-off and reported, others keep running."""

from __future__ import annotations

import asyncio

import pytest

from gateway.lifecycle.supervisor import PartState, Supervisor, restart_delay_s


class Flaky:
    """Fails the first `failures` runs, then runs until cancelled."""

    def __init__(self, name: str, failures: int) -> None:
        self.name = name
        self.failures = failures
        self.runs = 0
        self.cancelled = False

    async def run(self) -> None:
        self.runs += 1
        if self.runs <= self.failures:
            raise RuntimeError(f"boom {self.runs}")
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise


def test_restart_delay_doubles_up_to_cap_with_jitter() -> None:
    delays = [restart_delay_s(n, initial_s=1, max_s=10, rng=lambda: 0.5) for n in range(1, 7)]
    assert delays == [1, 2, 4, 8, 10, 10]
    assert restart_delay_s(1, initial_s=1, max_s=10, rng=lambda: 0.0) == pytest.approx(0.8)
    assert restart_delay_s(1, initial_s=1, max_s=10, rng=lambda: 1.0) == pytest.approx(1.2)


async def test_failed_part_restarts_and_is_reported() -> None:
    changes = []
    supervisor = Supervisor(restart_initial_s=0.01, restart_max_s=0.05, on_change=lambda h: changes.append(h.state))
    flaky, steady = Flaky("flaky", failures=3), Flaky("steady", failures=0)
    supervisor.add(flaky)
    supervisor.add(steady)
    supervisor.start()
    for _ in range(200):
        await asyncio.sleep(0.01)
        if flaky.runs == 4:
            break
    health = {h.name: h for h in supervisor.health()}
    assert flaky.runs == 4 and steady.runs == 1
    assert health["flaky"].restarts == 3
    assert health["flaky"].last_error == "RuntimeError: boom 3"
    assert health["flaky"].state == PartState.RUNNING
    assert PartState.FAILED in changes
    await supervisor.stop(timeout_s=1)
    assert flaky.cancelled and steady.cancelled
    assert all(h.state == PartState.STOPPED for h in supervisor.health())
    assert [t for t in asyncio.all_tasks() if t.get_name().startswith("part:")] == []


async def test_part_returning_early_counts_as_failure() -> None:
    class Quitter:
        name = "quitter"

        async def run(self) -> None:
            return None

    supervisor = Supervisor(restart_initial_s=10, restart_max_s=10)
    supervisor.add(Quitter())
    supervisor.start()
    await asyncio.sleep(0.05)
    (health,) = supervisor.health()
    assert health.state == PartState.FAILED
    assert health.last_error == "stopped unexpectedly"
    assert health.next_restart_in_s is not None and health.next_restart_in_s >= 8
    await supervisor.stop(timeout_s=1)


def test_duplicate_part_names_refused() -> None:
    supervisor = Supervisor(restart_initial_s=1, restart_max_s=1)
    supervisor.add(Flaky("a", 0))
    with pytest.raises(ValueError):
        supervisor.add(Flaky("a", 0))


async def test_parts_start_in_order_and_stop_in_reverse_order() -> None:
    events: list[str] = []

    class Recorder:
        def __init__(self, name: str) -> None:
            self.name = name

        async def run(self) -> None:
            events.append(f"start {self.name}")
            try:
                await asyncio.Event().wait()
            finally:
                events.append(f"stop {self.name}")

    supervisor = Supervisor(restart_initial_s=1, restart_max_s=1)
    for name in ("link", "control", "api-feed"):
        supervisor.add(Recorder(name))
    supervisor.start()
    for _ in range(100):
        await asyncio.sleep(0.01)
        if len(events) == 3:
            break
    await supervisor.stop(timeout_s=1)
    assert events == ["start link", "start control", "start api-feed", "stop api-feed", "stop control", "stop link"]
