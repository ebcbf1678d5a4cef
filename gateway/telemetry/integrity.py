"""Start-up integrity of the buffer file: check it, and move a bad one aside instead of crash-looping.

A file that fails ``PRAGMA quick_check``, is not an SQLite database, or belongs to something else is
renamed (with its WAL and shared-memory files) to ``<name>.corrupt-<UTC time>`` next to it, kept for
forensics. The store then starts a new file with a new epoch; the event is shown in status and written
to the audit log.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gateway.audit.model import AuditEvent
from gateway.audit.store import AuditLog
from gateway.telemetry.const import APPLICATION_ID, SCHEMA_VERSION

QUICK_CHECK_OK = "ok"
SIDE_FILE_SUFFIXES = ("-wal", "-shm")
REASON_MAX_CHARS = 200


@dataclass(frozen=True)
class QuarantineEvent:
    """A buffer file that was moved aside at start-up."""

    original: Path
    moved_to: Path
    reason: str
    at: float

    def as_dict(self) -> dict[str, object]:
        return {"original": str(self.original), "moved_to": str(self.moved_to), "reason": self.reason, "at": self.at}


def check_file(path: Path) -> str | None:
    """Why the file at ``path`` is unusable, or None when it is fine (or does not exist yet)."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    try:
        conn = sqlite3.connect(path, isolation_level=None)
    except sqlite3.Error as exc:
        return f"cannot open: {exc}"
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if app_id not in (0, APPLICATION_ID):
            return f"not a telemetry buffer (application_id {app_id:#x})"
        if version > SCHEMA_VERSION:
            return f"written by a newer gateway (schema {version} > {SCHEMA_VERSION})"
        rows = conn.execute("PRAGMA quick_check").fetchall()
        results = [str(row[0]) for row in rows]
        if results != [QUICK_CHECK_OK]:
            return ("quick_check: " + "; ".join(results))[:REASON_MAX_CHARS]
    except sqlite3.Error as exc:
        return f"{type(exc).__name__}: {exc}"[:REASON_MAX_CHARS]
    finally:
        conn.close()
    return None


def quarantine(path: Path, reason: str, clock: Callable[[], float]) -> QuarantineEvent:
    """Rename ``path`` and its side files to ``<name>.corrupt-<UTC time>``; never overwrite an earlier one."""
    now = clock()
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    counter = 1
    while target.exists():
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{counter}")
        counter += 1
    path.rename(target)
    for suffix in SIDE_FILE_SUFFIXES:
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.rename(target.with_name(target.name + suffix))
    return QuarantineEvent(original=path, moved_to=target, reason=reason, at=now)


async def record_quarantine(audit: AuditLog, event: QuarantineEvent, new_epoch: str) -> None:
    """Write the quarantine to the audit log (actor: system)."""
    await audit.append(AuditEvent(
        action="telemetry.quarantine", outcome="ok", actor="system", jti=None, client="local",
        target=str(event.moved_to), details={"reason": event.reason, "new_epoch": new_epoch},
    ))
