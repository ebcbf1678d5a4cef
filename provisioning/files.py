"""Idempotent file operations that report what they changed.

Every write goes through here: a file is (re)written only when its content differs (or a rotation asks
for it), atomically (a private temporary file in the same directory, fsync, rename); mode and owner are
corrected only when they differ. What changed is recorded in `Changes`, by device path, never with
file contents, so the report can be printed and logged.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from provisioning.layout import Layout

PARENT_DIR_MODE = 0o755
"""Mode of intermediate directories provisioning has to create (/etc/udev/rules.d and the like)."""


@dataclass(frozen=True)
class Owner:
    """Numeric owner of a provisioned path (numbers from the provisioned root's account files)."""

    uid: int
    gid: int


@dataclass
class Changes:
    """What one provisioning run did, by device path. Never holds secret values."""

    layout: Layout
    can_chown: bool = field(default_factory=lambda: os.geteuid() == 0)
    lines: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def record(self, verb: str, path: Path, detail: str = "") -> None:
        where = self.layout.device_path(path)
        self.lines.append(f"{verb} {where}" + (f" ({detail})" if detail else ""))

    def note(self, text: str) -> None:
        """Something the operator should know that is not a change (a skipped step, a warning)."""
        if text not in self.notes:
            self.notes.append(text)

    @property
    def changed(self) -> bool:
        return bool(self.lines)


def ensure_dir(path: Path, mode: int, owner: Owner | None, changes: Changes) -> None:
    """The directory exists with exactly `mode` and `owner` (parents are made 0755 root if missing)."""
    if not path.is_dir():
        _make_parents(path.parent, changes)
        path.mkdir(mode=mode)
        os.chmod(path, mode)  # mkdir's mode is reduced by the umask
        if owner is not None and changes.can_chown:
            os.chown(path, owner.uid, owner.gid)
        changes.record("created", path, f"directory {mode:04o}")
    ensure_mode_owner(path, mode, owner, changes)


def write_file(path: Path, data: bytes, mode: int, owner: Owner | None, changes: Changes, *,
               replace: bool = True, what: str = "") -> bool:
    """Write `data` unless the file already holds it; returns whether it was written.

    With `replace=False` an existing file is kept whatever it holds (an operator's edits, a key that
    must not change); only its mode and owner are corrected.
    """
    exists = path.exists() or path.is_symlink()
    if exists and (not replace or _same_content(path, data)):
        ensure_mode_owner(path, mode, owner, changes)
        return False
    _make_parents(path.parent, changes)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        os.fchmod(fd, mode)
        if owner is not None and changes.can_chown:
            os.fchown(fd, owner.uid, owner.gid)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync_dir(path.parent)
    detail = ", ".join(p for p in (what, f"{mode:04o}") if p)
    changes.record("replaced" if exists else "created", path, detail)
    if owner is not None and not changes.can_chown:
        changes.note("not running as root: files keep the invoking user as owner (modes are set)")
    return True


def ensure_mode_owner(path: Path, mode: int, owner: Owner | None, changes: Changes) -> None:
    st = os.lstat(path)
    if stat.S_IMODE(st.st_mode) != mode:
        os.chmod(path, mode)
        changes.record("chmod", path, f"{stat.S_IMODE(st.st_mode):04o} -> {mode:04o}")
    if owner is None:
        return
    if not changes.can_chown:
        changes.note("not running as root: files keep the invoking user as owner (modes are set)")
        return
    if (st.st_uid, st.st_gid) != (owner.uid, owner.gid):
        os.chown(path, owner.uid, owner.gid, follow_symlinks=False)
        changes.record("chown", path, f"{st.st_uid}:{st.st_gid} -> {owner.uid}:{owner.gid}")


def ensure_symlink(link: Path, target: str, changes: Changes) -> None:
    """`link` points at `target` (a device path, as `systemctl enable` writes it)."""
    if link.is_symlink() and os.readlink(link) == target:
        return
    _make_parents(link.parent, changes)
    existed = link.is_symlink() or link.exists()
    tmp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    os.symlink(target, tmp)
    os.replace(tmp, link)
    changes.record("replaced" if existed else "created", link, f"-> {target}")


def _same_content(path: Path, data: bytes) -> bool:
    try:
        return not path.is_symlink() and path.read_bytes() == data
    except OSError:
        return False


def _make_parents(path: Path, changes: Changes) -> None:
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        directory.mkdir(mode=PARENT_DIR_MODE)
        os.chmod(directory, PARENT_DIR_MODE)
        changes.record("created", directory, f"directory {PARENT_DIR_MODE:04o}")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
