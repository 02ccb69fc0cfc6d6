"""The operations figures' reads: the ledger, orders and users (PostgreSQL), the live rooms, media
nodes and engine processes (Redis), and the servers' own statistics (INFO, pg_stat_activity)."""

from __future__ import annotations

import datetime as dt

import asyncpg
import msgspec
from redis.asyncio import Redis

from engine.db import Conn
from engine.keys import Keys
from engine.ops.model import SPEND_KINDS, ProcessReport

_report_decoder = msgspec.json.Decoder(ProcessReport)
_encoder = msgspec.json.Encoder()

# --- PostgreSQL ------------------------------------------------------------------------------------


async def gifts_by_minute(conn: Conn, since: dt.datetime) -> dict[dt.datetime, int]:
    """Gift transactions (one per send) per minute since `since` (ledger_transactions_gift_time_idx)."""
    rows = await conn.fetch(
        """SELECT date_trunc('minute', created_at) AS at, count(*) AS n FROM ledger_transactions
           WHERE kind = 'gift' AND created_at >= $1 GROUP BY 1""",
        since,
    )
    return {r["at"]: int(r["n"]) for r in rows}


async def coins_spent_by_hour(conn: Conn, day_start: dt.datetime, since: dt.datetime) -> dict[int, int]:
    """Coins users spent (their own negative coin legs in gifts, VIP and mall purchases) since `since`,
    by hour of the business day (0: the hour from `day_start`; a zone may be off UTC by half hours)."""
    rows = await conn.fetch(
        """SELECT floor(extract(epoch FROM t.created_at - $1) / 3600)::int AS hour, -sum(e.amount)::bigint AS coins
           FROM ledger_transactions t JOIN ledger_entries e USING (txn_id)
           WHERE t.kind = ANY($3::text[]) AND t.created_at >= $2
             AND e.account_type = 'user' AND e.account_id = t.initiator_id
             AND e.currency = 'coins' AND e.amount < 0
           GROUP BY 1""",
        day_start,
        since,
        list(SPEND_KINDS),
    )
    return {int(r["hour"]): int(r["coins"]) for r in rows}


async def revenue_since(conn: Conn, since: dt.datetime) -> list[tuple[str, int]]:
    """Paid and credited recharge orders since `since`: (currency, cents)."""
    rows = await conn.fetch(
        """SELECT currency, sum(price_cents)::bigint AS cents FROM recharge_orders
           WHERE status = 'fulfilled' AND updated_at >= $1 GROUP BY 1""",
        since,
    )
    return [(r["currency"], int(r["cents"])) for r in rows]


async def new_users_since(conn: Conn, since: dt.datetime) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM users WHERE created_at >= $1", since))


def pool_figures(pool: asyncpg.Pool) -> tuple[int, int]:
    """This process's PostgreSQL pool: (connections open, of which idle)."""
    return pool.get_size(), pool.get_idle_size()


async def pg_connections(conn: Conn) -> tuple[str, dict[str, int], int]:
    """This database's name, its backends by state, and the server's max_connections."""
    rows = await conn.fetch(
        """SELECT coalesce(state, 'background') AS state, count(*) AS n FROM pg_stat_activity
           WHERE datname = current_database() GROUP BY 1 ORDER BY 1"""
    )
    database = await conn.fetchval("SELECT current_database()")
    limit = int(await conn.fetchval("SELECT setting::int FROM pg_settings WHERE name = 'max_connections'"))
    return str(database), {r["state"]: int(r["n"]) for r in rows}, limit


# --- Redis -----------------------------------------------------------------------------------------


async def live_room_count(redis: Redis, keys: Keys) -> int:
    return int(await redis.zcard(keys.live_rooms()))


async def publish_process(redis: Redis, keys: Keys, report: ProcessReport, ttl_seconds: int) -> None:
    await redis.set(keys.ops_process(report.instance), _encoder.encode(report), ex=ttl_seconds)


async def forget_process(redis: Redis, keys: Keys, instance_id: str) -> None:
    await redis.delete(keys.ops_process(instance_id))


async def process_reports(redis: Redis, keys: Keys, instance_ids: list[str]) -> dict[str, ProcessReport]:
    """The published reports of these processes (absent: expired or not yet published)."""
    if not instance_ids:
        return {}
    async with redis.pipeline(transaction=False) as pipe:
        for instance_id in instance_ids:
            pipe.get(keys.ops_process(instance_id))
        raws = await pipe.execute()
    return {i: _report_decoder.decode(raw) for i, raw in zip(instance_ids, raws, strict=True) if raw}


async def registered_socket_counts(redis: Redis, keys: Keys, instance_ids: list[str]) -> dict[str, int]:
    """How many sockets the rooms' presence registry holds for each process (HLEN, no scan)."""
    if not instance_ids:
        return {}
    async with redis.pipeline(transaction=False) as pipe:
        for instance_id in instance_ids:
            pipe.hlen(keys.instance_sockets(instance_id))
        counts = await pipe.execute()
    return {i: int(n) for i, n in zip(instance_ids, counts, strict=True)}


REDIS_FIELDS = (
    "used_memory_human", "used_memory_peak_human", "used_memory_rss_human", "maxmemory_human",
    "maxmemory_policy", "mem_fragmentation_ratio", "connected_clients", "redis_version",
)  # fmt: skip


async def redis_info(redis: Redis) -> dict[str, str]:
    """The INFO fields the capacity view shows (memory and clients)."""
    info = {**await redis.info("memory"), **await redis.info("clients"), **await redis.info("server")}
    return {field: str(info[field]) for field in REDIS_FIELDS if field in info}
