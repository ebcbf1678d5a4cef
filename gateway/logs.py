"""Logging set-up: every line carries the request id of the request it belongs to (or '-'), and a line
repeated over and over (a flood of bad messages from a peer) is written once per interval with a count."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from collections.abc import Callable

REQUEST_ID_VAR: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class RequestIdFilter(logging.Filter):
    """Adds `record.request_id` from the context of the task that logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID_VAR.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for journald and log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


REPEAT_INTERVAL_S = 10.0
"""The same line (logger, level, message) is written at most once per this interval."""
REPEAT_KEYS_MAX = 1024
"""Distinct lines remembered for the repeat check; beyond this the oldest are forgotten."""


class RepeatFilter(logging.Filter):
    """Writes a line at most once per ``interval_s``; the next one written says how many were held back.

    A burst of 20,000 identical warnings becomes one line, then one line per interval with
    ``(N more like this in the last S s)``. Distinct lines are never held back by each other.
    """

    def __init__(self, interval_s: float = REPEAT_INTERVAL_S, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._interval_s = interval_s
        self._clock = clock
        self._seen: dict[tuple[str, int, str], tuple[float, int]] = {}
        """(logger, level, message) -> (when last written, how many held back since)."""

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, record.getMessage())
        now = self._clock()
        last = self._seen.get(key)
        if last is not None and now - last[0] < self._interval_s:
            self._seen[key] = (last[0], last[1] + 1)
            return False
        held = last[1] if last is not None else 0
        self._seen.pop(key, None)
        self._seen[key] = (now, 0)
        if len(self._seen) > REPEAT_KEYS_MAX:
            del self._seen[next(iter(self._seen))]
        if held:
            record.msg = f"{record.getMessage()} ({held} more like this in the last {now - last[0]:.0f} s)"  # type: ignore[index]
            record.args = None
        return True


TEXT_FORMAT = "%(asctime)s %(levelname)-7s [%(request_id)s] %(name)s: %(message)s"


def setup_logging(level: str, fmt: str) -> None:
    """Configure the root logger once, for the service process."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RepeatFilter())
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiohttp's access log would duplicate the request log line the gateway writes itself.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
