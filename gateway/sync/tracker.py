"""What the sync worker has done and is doing, turned into a ``SyncStatus`` (pure: clocks are passed in)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from gateway.sync import const
from gateway.sync.status import SyncState, SyncStatus


@dataclass
class SyncTracker:
    endpoint: str
    started_monotonic: float
    state: SyncState = "starting"
    message: str | None = None
    last_success_at: float | None = None
    last_attempt_at: float | None = None
    backlog: int | None = None
    oldest_pending_ts: float | None = None
    """Wall-clock time of the oldest sample not yet delivered (None when caught up)."""
    delivered_samples: int = 0
    delivered_batches: int = 0
    retries: int = 0
    next_attempt_at: float | None = None
    """Monotonic time of the next attempt while backing off."""
    dead_batches: int = 0
    dead_samples: int = 0
    _recent: deque[tuple[float, int]] = field(default_factory=deque)

    def delivered(self, count: int, *, now: float, now_monotonic: float) -> None:
        self._recent.append((now_monotonic, count))
        self.delivered_samples += count
        self.delivered_batches += 1
        self.last_success_at = now
        self.message = None

    def status(self, *, now: float, now_monotonic: float) -> SyncStatus:
        while self._recent and self._recent[0][0] < now_monotonic - const.RATE_WINDOW_S:
            self._recent.popleft()
        window = max(1e-3, min(const.RATE_WINDOW_S, now_monotonic - self.started_monotonic))
        if self.oldest_pending_ts is not None:
            lag: float | None = round(max(0.0, now - self.oldest_pending_ts), 3)
        else:
            lag = 0.0 if self.state == "idle" else None
        next_in = None if self.next_attempt_at is None else round(max(0.0, self.next_attempt_at - now_monotonic), 3)
        return SyncStatus(
            enabled=True, state=self.state, message=self.message, endpoint=self.endpoint,
            last_success_at=self.last_success_at, last_attempt_at=self.last_attempt_at, backlog=self.backlog,
            lag_s=lag, rate_samples_per_s=round(sum(n for _, n in self._recent) / window, 1),
            delivered_samples=self.delivered_samples, delivered_batches=self.delivered_batches,
            retries=self.retries, next_attempt_in_s=next_in,
            dead_letter_batches=self.dead_batches, dead_letter_samples=self.dead_samples,
        )
