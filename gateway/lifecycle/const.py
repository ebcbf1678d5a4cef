"""Every lifetime and limit of the service lifecycle, named once with its unit.

Durations end in ``_S`` (seconds), sizes in ``_CHARS``.
"""

from __future__ import annotations

from typing import Final

# --- Supervision of parts ---------------------------------------------------------------------------
STABLE_RUN_S: Final = 60.0
"""A part that ran this long before failing starts again from the first restart delay."""

RESTART_JITTER_FRACTION: Final = 0.2
"""Restart delays are spread by +- this fraction, so parts that failed together do not retry in step."""

LAST_ERROR_MAX_CHARS: Final = 200
"""A failed part's error as reported in status is cut to this length."""

# --- Shutdown --------------------------------------------------------------------------------------
LEFTOVER_TASK_WAIT_S: Final = 1.0
"""Time given to tasks that were still running after every part stopped (a bug, logged) to end."""

LEFTOVER_THREAD_WAIT_S: Final = 0.5
"""Time given in all to threads still alive after the parts stopped to end before they are reported."""

# --- systemd notify protocol -----------------------------------------------------------------------
NOTIFY_STATUS_MAX_CHARS: Final = 200
"""STATUS= texts are cut to this length (and put on one line)."""

NOTIFY_STATE_RETRY_TOTAL_S: Final = 2.0
"""How long READY=1 and STOPPING=1 are retried while the manager's socket queue is full."""

NOTIFY_STATE_RETRY_FIRST_S: Final = 0.01
"""First pause between those retries; it doubles up to NOTIFY_STATE_RETRY_MAX_S."""

NOTIFY_STATE_RETRY_MAX_S: Final = 0.2
"""Longest pause between retries of a state message."""

# --- Liveness and watchdog -------------------------------------------------------------------------
LOOP_PROBE_INTERVAL_S: Final = 0.25
"""How often the event-loop lag probe wakes up."""

WATCHDOG_DEFAULT_INTERVAL_S: Final = 1.0
"""Watchdog decision interval when systemd gives no WatchdogSec (pings are then not sent at all)."""
