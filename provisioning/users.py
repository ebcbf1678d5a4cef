"""The service's system user and its groups (dialout for the serial port, gpio for GPIO chips).

On the running system (root `/`) the distribution's tools do it (groupadd, useradd, usermod): they
take the account-file locks and know about nscd and the like. Under a staged root the entries are
written into `<root>/etc/passwd`, `group`, `shadow` and `gshadow` directly, as useradd --system would
(highest free id in the system range, a locked password, no home directory, nologin shell).
"""

from __future__ import annotations

import grp
import pwd
import subprocess
from dataclasses import dataclass
from pathlib import Path

from provisioning import const
from provisioning.files import Changes, Owner, write_file
from provisioning.layout import Layout


class AccountError(Exception):
    """The accounts could not be created (a tool failed, or the account files are inconsistent)."""


@dataclass(frozen=True)
class Accounts:
    """Numeric ids of the service user, for ownership of what provisioning writes."""

    service: Owner
    """The service user and its own group."""

    @property
    def config_owner(self) -> Owner:
        """root, with the service's group: configuration the service reads but cannot change."""
        return Owner(0, self.service.gid)


def ensure_accounts(layout: Layout, changes: Changes) -> Accounts:
    if layout.is_live_system:
        return _ensure_live(changes)
    return _ensure_staged(layout, changes)


# --- the running system ---------------------------------------------------------------------------
def _ensure_live(changes: Changes) -> Accounts:
    for group in (const.SERVICE_USER, *const.SERVICE_GROUPS):
        if not _group_exists(group):
            _run(["groupadd", "--system", group])
            changes.record("created", Path("/etc/group"), f"group {group}")
    try:
        user = pwd.getpwnam(const.SERVICE_USER)
    except KeyError:
        _run(["useradd", "--system", "--gid", const.SERVICE_USER, "--groups", ",".join(const.SERVICE_GROUPS),
              "--home-dir", str(const.STATE_DIR), "--no-create-home", "--shell", const.SERVICE_SHELL,
              "--comment", const.SERVICE_COMMENT, const.SERVICE_USER])
        changes.record("created", Path("/etc/passwd"), f"system user {const.SERVICE_USER}")
        user = pwd.getpwnam(const.SERVICE_USER)
    missing = [g for g in const.SERVICE_GROUPS if const.SERVICE_USER not in grp.getgrnam(g).gr_mem]
    if missing:
        _run(["usermod", "--append", "--groups", ",".join(missing), const.SERVICE_USER])
        changes.record("changed", Path("/etc/group"), f"{const.SERVICE_USER} added to {', '.join(missing)}")
    return Accounts(Owner(user.pw_uid, user.pw_gid))


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def _run(argv: list[str]) -> None:
    try:
        subprocess.run(argv, check=True, capture_output=True, text=True)
    except FileNotFoundError:
        raise AccountError(f"{argv[0]} not found (install the 'passwd' package)") from None
    except subprocess.CalledProcessError as exc:
        raise AccountError(f"{' '.join(argv)} failed: {exc.stderr.strip() or exc.returncode}") from None


# --- a staged root --------------------------------------------------------------------------------
class _ColonFile:
    """One of /etc/passwd, group, shadow, gshadow: lines of ':'-separated fields, order kept."""

    def __init__(self, path: Path) -> None:
        self.path = path
        text = path.read_text() if path.exists() else ""
        self.original = text
        self.rows = [line.split(":") for line in text.splitlines() if line.strip()]

    def find(self, name: str) -> list[str] | None:
        return next((row for row in self.rows if row[0] == name), None)

    def ids(self, index: int) -> set[int]:
        return {int(row[index]) for row in self.rows if len(row) > index and row[index].isdigit()}

    def add_member(self, name: str, member: str, index: int) -> None:
        row = self.find(name)
        if row is None:
            return
        members = [m for m in row[index].split(",") if m]
        if member not in members:
            row[index] = ",".join([*members, member])

    def text(self) -> str:
        return "".join(":".join(row) + "\n" for row in self.rows)


def _free_id(*used: set[int]) -> int:
    taken = set().union(*used)
    for candidate in range(const.SYSTEM_ID_MAX, const.SYSTEM_ID_MIN - 1, -1):
        if candidate not in taken:
            return candidate
    raise AccountError(f"no free system id in {const.SYSTEM_ID_MIN}-{const.SYSTEM_ID_MAX}")


def _ensure_staged(layout: Layout, changes: Changes) -> Accounts:
    passwd, group = _ColonFile(layout.passwd), _ColonFile(layout.group)
    shadow, gshadow = _ColonFile(layout.shadow), _ColonFile(layout.gshadow)
    user = passwd.find(const.SERVICE_USER)
    for name in (*const.SERVICE_GROUPS, const.SERVICE_USER):
        if group.find(name) is None:
            preferred = int(user[3]) if user is not None and name == const.SERVICE_USER else None
            gid = preferred if preferred is not None else _free_id(group.ids(2), passwd.ids(2))
            group.rows.append([name, "x", str(gid), ""])
            gshadow.rows.append([name, "!", "", ""])
    service_gid = int(group.find(const.SERVICE_USER)[2])  # type: ignore[index]
    if user is None:
        uid = service_gid if service_gid not in passwd.ids(2) else _free_id(passwd.ids(2), group.ids(2))
        user = [const.SERVICE_USER, "x", str(uid), str(service_gid), const.SERVICE_COMMENT,
                str(const.STATE_DIR), const.SERVICE_SHELL]
        passwd.rows.append(user)
    if shadow.find(const.SERVICE_USER) is None:
        shadow.rows.append([const.SERVICE_USER, "!*", "", "", "", "", "", "", ""])
    for name in const.SERVICE_GROUPS:
        group.add_member(name, const.SERVICE_USER, 3)
        gshadow.add_member(name, const.SERVICE_USER, 3)
    shadow_group = group.find(const.SHADOW_GROUP)
    shadow_owner = Owner(0, int(shadow_group[2]) if shadow_group else 0)
    for table, mode, owner in ((passwd, const.ACCOUNT_FILE_MODE, Owner(0, 0)),
                               (group, const.ACCOUNT_FILE_MODE, Owner(0, 0)),
                               (shadow, const.SHADOW_FILE_MODE, shadow_owner),
                               (gshadow, const.SHADOW_FILE_MODE, shadow_owner)):
        write_file(table.path, table.text().encode(), mode, owner, changes, what="accounts")
    return Accounts(Owner(int(user[2]), int(user[3])))
