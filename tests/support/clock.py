"""A clock the test moves by hand, injected wherever the code takes a clock callable."""

from __future__ import annotations

WALL_START_S = 1_700_000_000.0
"""A fixed wall-clock start (2023-11-14), far from the real time so nothing reads the system clock by accident."""


class FakeClock:
    """Returns ``now`` when called; ``advance`` moves it. Serves as a wall or a monotonic clock."""

    def __init__(self, now: float = WALL_START_S) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
