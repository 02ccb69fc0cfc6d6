"""PostgreSQL connection pool."""

from __future__ import annotations

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
