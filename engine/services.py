"""The shared resources every action needs, built once per app by engine.app."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from redis.asyncio import Redis

from engine.auth import store as auth_store
from engine.auth.passwords import PasswordHasher
from engine.auth.store import Revocation
from engine.auth.tokens import TokenSigner
from engine.config import Config
from engine.economy.store import Wallets
from engine.flags.cache import FlagCache
from engine.keys import Keys
from engine.metrics import Metrics
from engine.ratelimit.store import RateLimiter

log = logging.getLogger("flylive.services")


@dataclass
class Services:
    config: Config
    pool: asyncpg.Pool
    redis: Redis
    keys: Keys
    hasher: PasswordHasher
    signer: TokenSigner
    limiter: RateLimiter
    metrics: Metrics
    wallets: Wallets
    # Feature flags and the maintenance state, per process (engine/flags/cache.py; issue 15 §9).
    flags: FlagCache
    # engine.economy.flusher.LedgerObserver instances, plugged in by create_app (the rankings).
    ledger_observers: list[Any] = field(default_factory=list)

    async def publish_revocation(self, event: Revocation) -> None:
        await auth_store.publish_revocation(self.redis, self.keys, event)
        log.info(
            "sessions revoked",
            extra={
                "user_id": event.user_id,
                "reason": event.reason,
                "sessions": len(event.sessions) if event.sessions else "all",
            },
        )


@contextlib.asynccontextmanager
async def open_services(config: Config, metrics: Metrics) -> AsyncIterator[Services]:
    """Connect to PostgreSQL and Redis, load the Lua scripts, and close everything on exit."""
    from redis.asyncio import BlockingConnectionPool

    from engine.db import create_pool
    from engine.lua import preload
    from engine.ratelimit.store import TOKEN_BUCKET
    from engine.redis_mux import MuxRedis

    assert config.redis_url, "services need REDIS_URL (or the embedded server) resolved"
    pool = await create_pool(config)
    # A blocking pool: a burst beyond max_connections waits for a free connection instead of
    # failing (the default pool raises "Too many connections" at its limit).
    pool_of_connections = BlockingConnectionPool.from_url(
        config.redis_url, max_connections=config.redis_max_connections, timeout=10, health_check_interval=30
    )
    # Commands share one auto-pipelined connection (engine/redis_mux.py); the pool serves the rest.
    redis = MuxRedis(connection_pool=pool_of_connections)
    try:
        await redis.ping()
        await preload(redis, TOKEN_BUCKET)
        keys = Keys(config.redis_prefix, config.economy_shards)
        flags = FlagCache(pool)
        svc = Services(
            config=config, pool=pool, redis=redis, keys=keys,
            hasher=PasswordHasher(config.argon2_memory_kib, config.argon2_time_cost),
            signer=TokenSigner(config.jwt_secret, config.jwt_secret_previous, config.access_token_ttl),
            limiter=RateLimiter(redis, keys, live=flags), metrics=metrics,
            wallets=Wallets(redis, keys, config.idempotency_ttl_seconds), flags=flags,
        )  # fmt: skip
        await svc.wallets.preload()
        restored = await auth_store.rebuild_revocations(pool, redis, keys, config.access_token_ttl)
        log.info("services ready", extra={"revocations_restored": restored})
        yield svc
    finally:
        await redis.aclose()
        await pool_of_connections.aclose()  # a pool handed to the client is not closed by it
        await pool.close()
