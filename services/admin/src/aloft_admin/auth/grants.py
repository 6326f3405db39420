"""Where the authorization server keeps its codes and refresh tokens: admin's database, through the repositories
(``oauth_grants``), so they survive a restart and work across replicas. A grant is read while the request is
checked (a failed attempt does not burn it) and consumed — one conditional DELETE — before anything is issued for
it, so it is redeemed at most once. Only SHA-256 hashes of the values are stored.

Authlib's grant hooks are synchronous: the token and authorize endpoints run them in a worker thread
(``asyncio.to_thread``) and these calls hop back onto the event loop, where the database sessions live.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

from aloft_admin.repositories.base import RepositoryProvider
from aloft_admin.repositories.models.oauth import OAuthGrantModel

SWEEP_SECONDS = 60.0
CALL_TIMEOUT_SECONDS = 30.0
T = TypeVar("T")


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class PersistedGrants:
    def __init__(self, repos: RepositoryProvider) -> None:
        self.repos = repos
        self.loop: asyncio.AbstractEventLoop | None = None
        self._last_sweep = 0.0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the event loop from the worker thread Authlib's hooks run in."""
        assert self.loop is not None, "PersistedGrants.bind(loop) first"
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:  # blocking the loop's own thread on the loop would never return
            raise RuntimeError("grant storage called on the event loop: use the server's async responses")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(CALL_TIMEOUT_SECONDS)

    def save(self, kind: str, value: str, client_id: str, payload: dict[str, Any], now: float, expires: float) -> None:
        row = OAuthGrantModel(
            kind=kind,
            key_hash=_hash(value),
            client_id=client_id,
            payload=json.dumps(payload).encode(),
            expires_at=_at(expires),
            created_at=_at(now),
        )
        self._run(self._add(row))

    def find(self, kind: str, value: str, client_id: str, now: float) -> tuple[dict[str, Any], float] | None:
        """The client's unexpired grant: its payload and expiry (None when unknown, used, expired, another's)."""
        row = self._run(self._get(kind, _hash(value), client_id, _at(now)))
        if row is None:
            return None
        return json.loads(row.payload), row.expires_at.timestamp()

    def consume(self, kind: str, value: str) -> bool:
        """Use the grant up: True for the one caller that deleted it."""
        return self._run(self._consume(kind, _hash(value)))

    def sweep(self, now: float) -> None:
        """Drop expired grants, at most once a minute."""
        if now - self._last_sweep < SWEEP_SECONDS:
            return
        self._last_sweep = now
        self._run(self._sweep(_at(now)))

    async def _add(self, row: OAuthGrantModel) -> None:
        async with self.repos.transaction() as tx:
            tx.oauth_grants.add(row)

    async def _get(self, kind: str, key_hash: str, client_id: str, now: datetime) -> OAuthGrantModel | None:
        async with self.repos.transaction() as tx:
            return await tx.oauth_grants.get(kind, key_hash, client_id, now)

    async def _consume(self, kind: str, key_hash: str) -> bool:
        async with self.repos.transaction() as tx:
            return await tx.oauth_grants.consume(kind, key_hash)

    async def _sweep(self, now: datetime) -> None:
        async with self.repos.transaction() as tx:
            await tx.oauth_grants.sweep(now)
