"""Token registry: which tokens were issued, which token ids are revoked.

Every write is a single SQL statement, so it is atomic on its own and one connection can be shared by
concurrent coroutines (see ``gateway.statedb.connection``).

Change detection (for the server's in-memory revocation set)
------------------------------------------------------------
``changed_since_last_check()`` is meant to be called about once a second. It first reads
``PRAGMA data_version``, which changes only when *another connection* (the CLI, another process)
committed anything to the file; when it did not change, nothing else is read. When it did change, the
``revocations`` counter (bumped by triggers on every insert/update/delete in ``revoked_jti``) is read,
so that other writes (audit entries, issued tokens) do not cause a reload. Revocations made through
*this* registry are reported too, on the next check. The baseline is the last check or the last
``revoked_jtis()`` read, whichever came later.

Cascading revocation
--------------------
A token issued through the API records its issuer's ``jti`` (``issuer_jti``; NULL for the admin CLI on
the device). Revoking a token revokes, in the same single statement, every token it issued, the tokens
those issued, and so on (a recursive query over ``issuer_jti``). Issued tokens never outlive their
issuer (the API refuses or caps), so a live token's chain of issuers is still recorded when it is
revoked: pruning removes a record only after its token expired.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from gateway.statedb.const import JTI_MAX_CHARS, REVOCATION_PRUNE_GRACE_S, REVOCATIONS_COUNTER, Clock


@dataclass(frozen=True)
class TokenRecord:
    """One issued token as recorded (never the token itself). Times are seconds since the epoch."""

    jti: str
    sub: str
    role: str
    kid: str
    iat: int
    exp: int
    revoked_at: float | None
    issuer_jti: str | None = None
    """The jti of the token that issued this one through the API; None for the admin CLI on the device."""


@dataclass(frozen=True)
class Revocation:
    """What one revocation did: the token itself, and the tokens it issued (transitively) revoked with it."""

    jti: str
    newly: bool
    """False when ``jti`` was already revoked."""
    cascaded: tuple[str, ...] = ()
    """Tokens issued by ``jti`` (directly or through tokens it issued) newly revoked by this call, sorted."""

    @property
    def newly_revoked(self) -> tuple[str, ...]:
        """Every id this call added to the revocation set (``jti`` first when it was one of them)."""
        return ((self.jti,) if self.newly else ()) + self.cascaded


_RECORD_COLUMNS = "t.jti, t.sub, t.role, t.kid, t.iat, t.exp, r.revoked_at, t.issuer_jti"
_RECORD_FROM = "issued_token AS t LEFT JOIN revoked_jti AS r ON r.jti = t.jti"


class TokenRegistry:
    """Issued-token records and revocations in the state database."""

    def __init__(self, conn: aiosqlite.Connection, clock: Clock) -> None:
        self._conn = conn
        self._clock = clock
        self._data_version: int | None = None
        self._revision: int | None = None
        self._local_change = False

    async def record_issued(
        self, jti: str, sub: str, role: str, kid: str, iat: int, exp: int, *, issuer_jti: str | None = None
    ) -> None:
        """Record a newly issued token. Raises ``ValueError`` if ``jti`` was already recorded.

        ``issuer_jti`` is the token that issued it through the API (None: the admin CLI on the device);
        revoking the issuer revokes this token too.
        """
        _check_jti(jti)
        if issuer_jti is not None:
            _check_jti(issuer_jti)
            if issuer_jti == jti:
                raise ValueError("a token cannot be its own issuer")
        try:
            await self._conn.execute(
                "INSERT INTO issued_token (jti, sub, role, kid, iat, exp, issuer_jti) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (jti, sub, role, kid, int(iat), int(exp), issuer_jti),
            )
        except aiosqlite.IntegrityError as exc:
            if "UNIQUE" not in str(exc):
                raise
            raise ValueError(f"token id {jti!r} is already recorded") from None

    async def get(self, jti: str) -> TokenRecord | None:
        """The record of one issued token, or None if it was never recorded (or was pruned)."""
        rows = list(await self._conn.execute_fetchall(
            f"SELECT {_RECORD_COLUMNS} FROM {_RECORD_FROM} WHERE t.jti = ?", (jti,)
        ))
        return _record(rows[0]) if rows else None

    async def list_tokens(self, *, include_expired: bool = False) -> list[TokenRecord]:
        """Issued tokens, newest first (by ``iat``, then by order of recording); revoked ones included.

        A token counts as expired once ``exp <= clock()``.
        """
        if include_expired:
            where, params = "", ()
        else:
            where, params = "WHERE t.exp > ?", (self._clock(),)
        rows = await self._conn.execute_fetchall(
            f"SELECT {_RECORD_COLUMNS} FROM {_RECORD_FROM} {where} ORDER BY t.iat DESC, t.rowid DESC", params
        )
        return [_record(row) for row in rows]

    async def revoke(self, jti: str) -> bool:
        """Revoke ``jti`` and every token it issued (transitively); True if ``jti`` was newly revoked,
        False if it already was.

        An id never issued here is recorded as revoked all the same (with an unknown ``exp``), so a token
        issued elsewhere can be killed by its id (the admin CLI relies on this; the API answers 404, see
        ``revoke_known``).
        """
        return (await self._revoke_tree(jti, only_known=False)).newly

    async def revoke_known(self, jti: str) -> Revocation | None:
        """Revoke ``jti`` and every token it issued (transitively), if ``jti`` is known here.

        Returns None, and records nothing, when ``jti`` was neither issued here (or its record was
        already pruned) nor revoked before.
        """
        revocation = await self._revoke_tree(jti, only_known=True)
        if revocation.newly or revocation.cascaded or await self.is_revoked(jti):
            return revocation
        return None

    async def _revoke_tree(self, jti: str, *, only_known: bool) -> Revocation:
        """One statement: ``jti`` (unless ``only_known`` and it was never issued here) and its descendants
        over ``issuer_jti`` inserted into ``revoked_jti``; the ids actually inserted come back."""
        _check_jti(jti)
        rows = await self._conn.execute_fetchall(
            "WITH RECURSIVE tree(jti) AS ("
            "   SELECT :root WHERE NOT :only_known OR EXISTS (SELECT 1 FROM issued_token WHERE jti = :root)"
            "   UNION"
            "   SELECT t.jti FROM issued_token AS t JOIN tree ON t.issuer_jti = tree.jti"
            " )"
            " INSERT INTO revoked_jti (jti, revoked_at, exp)"
            " SELECT tree.jti, :now, (SELECT t.exp FROM issued_token AS t WHERE t.jti = tree.jti) FROM tree WHERE true"
            " ON CONFLICT (jti) DO NOTHING"
            " RETURNING jti",
            {"root": jti, "only_known": int(only_known), "now": float(self._clock())},
        )
        inserted = {str(row[0]) for row in rows}
        if inserted:
            self._local_change = True
        return Revocation(jti=jti, newly=jti in inserted, cascaded=tuple(sorted(inserted - {jti})))

    async def is_revoked(self, jti: str) -> bool:
        """Whether ``jti`` is in the revocation table (one indexed lookup)."""
        rows = list(await self._conn.execute_fetchall("SELECT 1 FROM revoked_jti WHERE jti = ?", (jti,)))
        return bool(rows)

    async def revoked_jtis(self) -> set[str]:
        """Every revoked token id. Also resets the baseline of ``changed_since_last_check``."""
        data_version = await self._read_data_version()
        revision = await self._read_revision()
        rows = await self._conn.execute_fetchall("SELECT jti FROM revoked_jti")
        # Read in this order, a change racing with the read can only make the next check say "changed".
        self._data_version, self._revision, self._local_change = data_version, revision, False
        return {str(row[0]) for row in rows}

    async def changed_since_last_check(self) -> bool:
        """Whether the revocation set may have changed since the last check (see the module docstring).

        True on the first call when ``revoked_jtis()`` was never read. Costs one ``PRAGMA`` when no other
        connection wrote to the database.
        """
        data_version = await self._read_data_version()
        if data_version == self._data_version and not self._local_change and self._revision is not None:
            return False
        revision = await self._read_revision()
        changed = self._local_change or revision != self._revision
        self._data_version, self._revision, self._local_change = data_version, revision, False
        return changed

    async def prune_expired(
        self,
        now: float,
        *,
        grace_s: float = REVOCATION_PRUNE_GRACE_S,
        unknown_exp_retention_s: float | None = None,
    ) -> int:
        """Drop token records and revocations whose token expired more than ``grace_s`` before ``now``.

        A revoked token past its ``exp`` cannot be used anyway; ``grace_s`` covers the verifier's clock
        leeway. A revocation of an id never issued here has no known ``exp``: it is kept unless
        ``unknown_exp_retention_s`` is given (e.g. the longest token lifetime), in which case it is
        dropped that long after it was revoked. Returns the number of rows deleted (both tables).
        """
        cutoff = now - grace_s
        unknown_cutoff = None if unknown_exp_retention_s is None else now - unknown_exp_retention_s
        async with self._conn.execute(
            "DELETE FROM revoked_jti WHERE"
            " COALESCE(exp, (SELECT t.exp FROM issued_token AS t WHERE t.jti = revoked_jti.jti)) <= ?"
            " OR (? IS NOT NULL AND exp IS NULL AND revoked_at <= ?"
            "     AND NOT EXISTS (SELECT 1 FROM issued_token AS t WHERE t.jti = revoked_jti.jti))",
            (cutoff, unknown_cutoff, unknown_cutoff),
        ) as cursor:
            revocations = max(cursor.rowcount, 0)
        async with self._conn.execute("DELETE FROM issued_token WHERE exp <= ?", (cutoff,)) as cursor:
            records = max(cursor.rowcount, 0)
        if revocations:
            self._local_change = True
        return revocations + records

    async def _read_data_version(self) -> int:
        rows = list(await self._conn.execute_fetchall("PRAGMA data_version"))
        return int(rows[0][0])

    async def _read_revision(self) -> int:
        rows = list(await self._conn.execute_fetchall(
            "SELECT value FROM state_counter WHERE name = ?", (REVOCATIONS_COUNTER,)
        ))
        return int(rows[0][0]) if rows else 0


def _check_jti(jti: str) -> None:
    if not isinstance(jti, str) or not jti or len(jti) > JTI_MAX_CHARS:
        raise ValueError(f"a token id is a non-empty string of at most {JTI_MAX_CHARS} characters")


def _record(row: aiosqlite.Row) -> TokenRecord:
    jti, sub, role, kid, iat, exp, revoked_at, issuer_jti = row
    return TokenRecord(
        jti=jti, sub=sub, role=role, kid=kid, iat=int(iat), exp=int(exp),
        revoked_at=None if revoked_at is None else float(revoked_at), issuer_jti=issuer_jti,
    )
