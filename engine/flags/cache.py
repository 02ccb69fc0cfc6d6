"""The per-process view of flags, the maintenance state and the rate-limit overrides, read by the
engine on hot paths (`room:join` checks maintenance on every join, the limiter asks for an override
at every hit).

Both are small: the whole table is read at once and kept for `TTL_SECONDS`, so a change made by any
process (or by plain SQL) is seen everywhere within that time without a restart, and the process
that made it forgets at once (`forget`). Concurrent misses share one read. When PostgreSQL cannot be
read (or answers slowly), the last snapshot keeps being served for another TTL (a flag check must
not fail a join, nor hold an HTTP request).
"""

from __future__ import annotations

import asyncio
import logging
import time

import asyncpg

from engine.config import Rate
from engine.flags import store
from engine.flags.model import OFF, Flag, Maintenance, is_on

log = logging.getLogger("flylive.flags")
TTL_SECONDS = 2.0
READ_TIMEOUT_SECONDS = 2.0  # a slow PostgreSQL must not hold every request that asks


class _Snapshot:
    __slots__ = ("flags", "maintenance", "rates", "read_at")

    def __init__(self, flags: dict[str, Flag], maintenance: Maintenance, rates: dict[str, Rate],
                 read_at: float) -> None:  # fmt: skip
        self.flags = flags
        self.maintenance = maintenance
        self.rates = rates
        self.read_at = read_at


class FlagCache:
    def __init__(self, pool: asyncpg.Pool, ttl: float = TTL_SECONDS) -> None:
        self._pool = pool
        self.ttl = ttl
        self._snapshot: _Snapshot | None = None
        self._loading: asyncio.Task[_Snapshot] | None = None

    def forget(self) -> None:
        """Read again at the next call (after this process changed a flag or the maintenance row)."""
        self._snapshot = None

    async def _read(self) -> _Snapshot:
        async with asyncio.timeout(READ_TIMEOUT_SECONDS), self._pool.acquire() as conn:
            flags = {f.name: f for f in await store.all_flags(conn)}
            maintenance = await store.maintenance(conn)
            rates = await store.rate_overrides(conn)
        return _Snapshot(flags, maintenance, rates, time.monotonic())

    async def _current(self) -> _Snapshot:
        snapshot = self._snapshot
        if snapshot is not None and time.monotonic() - snapshot.read_at < self.ttl:
            return snapshot
        if self._loading is None or self._loading.done():
            self._loading = asyncio.ensure_future(self._read())
        try:
            # shield: one caller going away must not cancel the read the others wait on
            fresh = await asyncio.shield(self._loading)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            log.warning("flags could not be read; serving the last snapshot", exc_info=True)
            # Kept as if just read: the next try comes after the TTL, not at every call (every HTTP
            # request asks the limiter, which asks here).
            last = snapshot or _Snapshot({}, OFF, {}, 0.0)
            self._snapshot = _Snapshot(last.flags, last.maintenance, last.rates, time.monotonic())
            return self._snapshot
        self._snapshot = fresh
        return fresh

    async def enabled(self, name: str, user_id: int | None) -> bool:
        """Whether feature flag `name` is on for the user (unknown flags are off)."""
        return is_on((await self._current()).flags.get(name), user_id)

    async def enabled_for(self, user_id: int) -> list[str]:
        """The names of every flag on for the user."""
        return sorted(name for name, flag in (await self._current()).flags.items() if is_on(flag, user_id))

    async def maintenance(self) -> Maintenance:
        return (await self._current()).maintenance

    async def rate(self, scope: str, default: Rate) -> Rate:
        """The rate in force for a limiter scope: staff's override, else the environment's."""
        return (await self._current()).rates.get(scope, default)

    def rate_now(self, scope: str, default: Rate) -> Rate:
        """The same from the last snapshot, without waiting (for a hit queued on a pipeline)."""
        snapshot = self._snapshot
        return snapshot.rates.get(scope, default) if snapshot is not None else default
