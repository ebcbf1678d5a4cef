"""In-memory view of revoked token ids, so that checking a request costs a set lookup.

The source of truth is the state database (`TokenRegistry`): the API revokes through it and updates
this cache at once; revocations made by the CLI in another process arrive with the next `refresh`,
which the server runs about once a second and which reads nothing when the database did not change.
"""

from __future__ import annotations

from gateway.statedb.tokens import TokenRegistry


class RevocationCache:
    def __init__(self) -> None:
        self._revoked: frozenset[str] = frozenset()

    def is_revoked(self, jti: str) -> bool:
        return jti in self._revoked

    def add(self, jti: str) -> None:
        self._revoked = self._revoked | {jti}

    def __len__(self) -> int:
        return len(self._revoked)

    async def load(self, registry: TokenRegistry) -> None:
        self._revoked = frozenset(await registry.revoked_jtis())

    async def refresh(self, registry: TokenRegistry) -> bool:
        """Reload if the database changed since the last check. Returns whether it reloaded."""
        if not await registry.changed_since_last_check():
            return False
        await self.load(registry)
        return True
