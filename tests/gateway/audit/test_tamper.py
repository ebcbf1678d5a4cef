"""Tampering with the file is found: the test drops the triggers with plain sqlite3, edits, verifies.

``first_broken_id`` is the first entry at which a check fails (see ``VerifyResult``).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.audit import store as audit_store
from gateway.audit.chain import VerifyResult, entry_hash
from gateway.audit.store import AuditLog
from gateway.statedb.connection import state_db

from .conftest import FakeClock, event

ENTRY_COUNT = 10
MIDDLE = 5
COLUMNS = ("ts", "action", "outcome", "actor", "jti", "client", "target", "details", "prev_hash", "hash")


async def build_log(path: Path) -> None:
    async with state_db(path) as conn:
        log = AuditLog(conn, FakeClock())
        for n in range(1, ENTRY_COUNT + 1):
            await log.append(event(n))


async def verify(path: Path) -> VerifyResult:
    async with state_db(path) as conn:
        return await AuditLog(conn, FakeClock()).verify()


def tamper(path: Path, edit: Callable[[sqlite3.Connection], None]) -> None:
    plain = sqlite3.connect(path, isolation_level=None)
    try:
        plain.execute("DROP TRIGGER audit_log_no_update")
        plain.execute("DROP TRIGGER audit_log_no_delete")
        edit(plain)
    finally:
        plain.close()


def row(plain: sqlite3.Connection, entry_id: int) -> dict[str, object]:
    plain.row_factory = sqlite3.Row
    found = plain.execute("SELECT * FROM audit_log WHERE id = ?", (entry_id,)).fetchone()
    plain.row_factory = None
    return dict(found)


def hash_of_row(values: dict[str, object]) -> str:
    fields = {k: values[k] for k in ("id", "ts", "action", "outcome", "actor", "jti", "client", "target")}
    fields["details"] = json.loads(str(values["details"]))
    return entry_hash(str(values["prev_hash"]), fields)


def change_field(plain: sqlite3.Connection) -> None:
    plain.execute("UPDATE audit_log SET outcome = 'ok-ish' WHERE id = ?", (MIDDLE,))


def change_field_and_hash(plain: sqlite3.Connection) -> None:
    values = row(plain, MIDDLE)
    values["actor"] = "mallory"
    plain.execute("UPDATE audit_log SET actor = ?, hash = ? WHERE id = ?", ("mallory", hash_of_row(values), MIDDLE))


def change_details(plain: sqlite3.Connection) -> None:
    plain.execute("UPDATE audit_log SET details = json_set(details, '$.status', 200) WHERE id = ?", (MIDDLE,))


def unreadable_details(plain: sqlite3.Connection) -> None:
    plain.execute("UPDATE audit_log SET details = 'not json' WHERE id = ?", (MIDDLE,))


def delete_entry(plain: sqlite3.Connection) -> None:
    plain.execute("DELETE FROM audit_log WHERE id = ?", (MIDDLE,))


def delete_first_entry(plain: sqlite3.Connection) -> None:
    plain.execute("DELETE FROM audit_log WHERE id = 1")


def delete_entry_and_renumber(plain: sqlite3.Connection) -> None:
    plain.execute("DELETE FROM audit_log WHERE id = ?", (MIDDLE,))
    plain.execute("UPDATE audit_log SET id = -(id - 1) WHERE id > ?", (MIDDLE,))
    plain.execute("UPDATE audit_log SET id = -id WHERE id < 0")


def shift_up_from_middle(plain: sqlite3.Connection) -> None:
    plain.execute("UPDATE audit_log SET id = -(id + 1) WHERE id >= ?", (MIDDLE,))
    plain.execute("UPDATE audit_log SET id = -id WHERE id < 0")


def insert_forged_entry(plain: sqlite3.Connection) -> None:
    """A well-formed entry, correctly hashed onto its predecessor, squeezed in by renumbering."""
    before = row(plain, MIDDLE - 1)
    shift_up_from_middle(plain)
    forged: dict[str, object] = {
        "id": MIDDLE, "ts": before["ts"], "action": "tokens.issue", "outcome": "ok", "actor": "admin",
        "jti": None, "client": "local", "target": "forged", "details": "{}", "prev_hash": before["hash"],
    }
    forged["hash"] = hash_of_row(forged)
    names = ", ".join(forged)
    plain.execute(f"INSERT INTO audit_log ({names}) VALUES ({', '.join('?' * len(forged))})", tuple(forged.values()))


def insert_forged_entry_with_bad_hash(plain: sqlite3.Connection) -> None:
    before = row(plain, MIDDLE - 1)
    shift_up_from_middle(plain)
    plain.execute(
        "INSERT INTO audit_log (id, ts, action, outcome, details, prev_hash, hash) VALUES (?, 0, 'x', 'ok', '{}', ?, ?)",
        (MIDDLE, before["hash"], "b" * 64),
    )


def append_forged_tail(plain: sqlite3.Connection) -> None:
    plain.execute(
        "INSERT INTO audit_log (id, ts, action, outcome, details, prev_hash, hash) VALUES (?, 0, 'x', 'ok', '{}', ?, ?)",
        (ENTRY_COUNT + 1, "c" * 64, "d" * 64),
    )


def reorder_two_entries(plain: sqlite3.Connection) -> None:
    """Swap the content of MIDDLE and MIDDLE + 1 (ids stay in place, as a reordering must)."""
    first, second = row(plain, MIDDLE), row(plain, MIDDLE + 1)
    assignments = ", ".join(f"{c} = ?" for c in COLUMNS)
    for target, source in ((MIDDLE, second), (MIDDLE + 1, first)):
        plain.execute(f"UPDATE audit_log SET {assignments} WHERE id = ?", (*(source[c] for c in COLUMNS), target))


@pytest.mark.parametrize(
    ("edit", "broken_id", "reason"),
    [
        (change_field, MIDDLE, "hash mismatch"),
        (change_details, MIDDLE, "hash mismatch"),
        (unreadable_details, MIDDLE, "hash mismatch"),
        (change_field_and_hash, MIDDLE + 1, "prev link mismatch"),
        (delete_entry, MIDDLE + 1, "id gap"),
        (delete_first_entry, 2, "id gap"),
        (delete_entry_and_renumber, MIDDLE, "prev link mismatch"),
        (insert_forged_entry, MIDDLE + 1, "prev link mismatch"),
        (insert_forged_entry_with_bad_hash, MIDDLE, "hash mismatch"),
        (append_forged_tail, ENTRY_COUNT + 1, "prev link mismatch"),
        (reorder_two_entries, MIDDLE, "prev link mismatch"),
    ],
)
async def test_tampering_is_found(
    db_path: Path, edit: Callable[[sqlite3.Connection], None], broken_id: int, reason: str
) -> None:
    await build_log(db_path)
    assert (await verify(db_path)).ok
    tamper(db_path, edit)
    result = await verify(db_path)
    assert result.ok is False
    assert result.first_broken_id == broken_id
    assert result.reason is not None and result.reason.startswith(reason)


async def test_tampering_found_across_chunk_boundary(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit_store, "AUDIT_VERIFY_CHUNK_ROWS", 3)
    await build_log(db_path)
    tamper(db_path, reorder_two_entries)  # entries 5 and 6 sit in different chunks
    result = await verify(db_path)
    assert (result.ok, result.first_broken_id) == (False, MIDDLE)


async def test_list_survives_unreadable_details(db_path: Path) -> None:
    await build_log(db_path)
    tamper(db_path, unreadable_details)
    async with state_db(db_path) as conn:
        entries = await AuditLog(conn, FakeClock()).list()
    assert dict(next(e for e in entries if e.id == MIDDLE).details) == {"_unreadable": True}


def changed(column: str, value: object) -> object:
    """A different value of the same kind, as an editor of the file would write it."""
    if column == "ts":
        return float(value) + 1.0  # type: ignore[arg-type]
    if column == "details":
        return json.dumps({**json.loads(str(value)), "status": 299})
    if column in ("prev_hash", "hash"):
        text = str(value)
        return ("0" if text[0] != "0" else "1") + text[1:]
    return f"{value}x"


async def test_tampering_with_any_column_of_any_entry_names_that_entry(tmp_path: Path) -> None:
    template = tmp_path / "template.db"
    await build_log(template)
    assert (await verify(template)).ok
    for entry_id in range(1, ENTRY_COUNT + 1):
        for column in COLUMNS:
            path = tmp_path / f"case-{entry_id}-{column}.db"
            shutil.copy(template, path)

            def edit(plain: sqlite3.Connection) -> None:
                value = row(plain, entry_id)[column]
                plain.execute(f"UPDATE audit_log SET {column} = ? WHERE id = ?", (changed(column, value), entry_id))

            tamper(path, edit)
            result = await verify(path)
            assert (result.ok, result.first_broken_id) == (False, entry_id), (entry_id, column, result)
            path.unlink()
