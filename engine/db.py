"""PostgreSQL connection pool."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import TypeAlias

import asyncpg
import asyncpg.pool
import msgspec

from engine.config import Config


async def _init_connection(conn: asyncpg.Connection) -> None:
    for json_type in ("json", "jsonb"):
        await conn.set_type_codec(
            json_type,
            schema="pg_catalog",
            encoder=lambda v: msgspec.json.encode(v).decode(),
            decoder=msgspec.json.decode,
            format="text",
        )


async def create_pool(config: Config) -> asyncpg.Pool:
    assert config.database_url, "create_pool needs DATABASE_URL (or the embedded server) resolved"
    pool = await asyncpg.create_pool(
        config.database_url,
        min_size=config.db_pool_min,
        max_size=config.db_pool_max,
        # PgBouncer in transaction mode needs 0 (DESIGN.md); configurable for that deployment.
        statement_cache_size=config.db_statement_cache_size,
        init=_init_connection,
        server_settings={"application_name": "flylive", "timezone": "UTC"},
    )
    assert pool is not None
    return pool


# A connection as stores receive it: a plain one (CLI, migrations) or one borrowed from the pool.
Conn: TypeAlias = "asyncpg.Connection[asyncpg.Record] | asyncpg.pool.PoolConnectionProxy[asyncpg.Record]"


async def listen(dsn: str, channel: str, on_notify: Callable[[str], None]) -> asyncpg.Connection:
    """A connection of its own that calls `on_notify(payload)` for each NOTIFY on `channel`.

    It must be a session connection (not through PgBouncer in transaction mode: LISTEN needs one).
    The caller watches `is_closed()` and closes it.
    """
    conn: asyncpg.Connection = await asyncpg.connect(dsn, server_settings={"application_name": "flylive-listen"})
    await conn.add_listener(channel, lambda _conn, _pid, _channel, payload: on_notify(payload))
    return conn


async def notify(pool: asyncpg.Pool, channel: str, payload: str) -> None:
    """NOTIFY `channel` through the pool (what `listen` hears)."""
    await pool.execute("SELECT pg_notify($1, $2)", channel, payload)


# Retention jobs delete old rows a batch per transaction, and a pass stops after so many batches
# even if older rows remain (the next pass goes on): one pass never holds the job, or the
# database, for long.
RETENTION_BATCH = 1000
RETENTION_MAX_BATCHES = 50


async def delete_in_batches(pool: asyncpg.Pool, delete: Callable[[Conn, dt.datetime, int], Awaitable[int]],
                            cutoff: dt.datetime, *, batch: int = RETENTION_BATCH,
                            max_batches: int = RETENTION_MAX_BATCHES) -> int:  # fmt: skip
    """Run a store's `delete(conn, cutoff, batch)` (rows older than `cutoff`, at most `batch` of
    them) until it deletes fewer than a batch or `max_batches` ran; how many rows went."""
    deleted = 0
    for _ in range(max_batches):
        async with pool.acquire() as conn:
            gone = await delete(conn, cutoff, batch)
        deleted += gone
        if gone < batch:
            break
    return deleted
