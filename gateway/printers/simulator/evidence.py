"""Evidence for tests: every request the simulated printer received, by command, with when and on which
of its broker sessions, and what it published.

A test can then say "at most one pushall per (re)connect" (`per_session("pushall")`), "no pushall in the
last N seconds" (`count("pushall", since_s=...)`) or "the printer answered twice" (`published`).
Times are `time.monotonic()` seconds.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from gateway.printers.simulator.answers import Request


@dataclass(frozen=True)
class ReceivedRequest:
    at_s: float  # time.monotonic() when the printer read it
    session: int  # the printer's broker session (1 = its first connection)
    section: str  # "pushing", "print", "system", "info" ...
    command: str  # "pushall", "pause", "ledctrl" ...
    sequence_id: str | None


class RequestLog:
    """Requests by command with timestamps, and the printer's publications by kind."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._records: list[ReceivedRequest] = []
        self.messages = 0  # request messages, parsable or not
        self.malformed = 0  # messages with no `{"section": {"command": ...}}` in them
        self.published: Counter[str] = Counter()  # "full", "delta", "reply", "raw"

    def record(self, requests: Iterable[Request], session: int) -> None:
        """One request message (it may hold several sections)."""
        self.messages += 1
        now = self._clock()
        added = [ReceivedRequest(now, session, r.section, r.command, r.sequence_id) for r in requests]
        if not added:
            self.malformed += 1
        self._records.extend(added)

    def note_published(self, kind: str) -> None:
        self.published[kind] += 1

    @property
    def records(self) -> list[ReceivedRequest]:
        return list(self._records)

    def _select(self, command: str | None, since_s: float | None, until_s: float | None,
                session: int | None) -> list[ReceivedRequest]:
        return [r for r in self._records
                if (command is None or r.command == command)
                and (since_s is None or r.at_s >= since_s)
                and (until_s is None or r.at_s < until_s)
                and (session is None or r.session == session)]

    def count(self, command: str | None = None, *, since_s: float | None = None, until_s: float | None = None,
              session: int | None = None) -> int:
        return len(self._select(command, since_s, until_s, session))

    def times(self, command: str) -> list[float]:
        return [r.at_s for r in self._select(command, None, None, None)]

    def sequence_ids(self, command: str) -> list[str | None]:
        return [r.sequence_id for r in self._select(command, None, None, None)]

    def by_command(self) -> dict[str, int]:
        return dict(Counter(r.command for r in self._records))

    def per_session(self, command: str) -> dict[int, int]:
        """How many `command` requests arrived on each broker session of the printer."""
        return dict(Counter(r.session for r in self._select(command, None, None, None)))
