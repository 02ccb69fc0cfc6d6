"""Notifications benchmark: store throughput, list-page and unread-count latency for a user with
many notifications, and the retention job's delete rate — through the notification store's own
queries (engine/notifications/store.py).

    .venv/bin/python loadtest/bench_notifications.py --database-url postgresql://postgres@127.0.0.1:5432/postgres \
        [--users 10000] [--inserts 20000] [--concurrency 16] [--heavy 100000] [--reads 1000]

Creates a throw-away database beside the one named (dropped at the end), migrates it, fills `users`
with --users rows, and a quarter of them switch `gift` off. Then:

insert: --inserts notifications (`insert_txn`, one statement each, as `Notifications.notify` stores
them; kinds follow/gift/system at random, so some are refused by a preference), --concurrency at
once, to random users; prints notifications per second.

read: user 1 gets --heavy notifications (generate_series, half of them read); --reads calls each of
a first page, a page at a random cursor, an unread-only page (limit 20) and the unread count;
prints p50/p99 in ms.

retention: all of those --heavy rows made older than the retention age, then `purge_old` (batches
of 1000) deletes them; prints rows per second.

Prints its figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.migrations import migrate
from engine.notifications import actions, store
from engine.notifications.model import Notice


async def json_codec(conn: asyncpg.Connection) -> None:
    """jsonb as the engine's pool reads and writes it (engine/db.py)."""
    await conn.set_type_codec("jsonb", schema="pg_catalog", encoder=json.dumps, decoder=json.loads, format="text")


def with_database(url: str, name: str) -> str:
    return f"{url.rpartition('/')[0]}/{name}"


async def fill(conn: asyncpg.Connection, users: int) -> None:
    await conn.execute(
        """INSERT INTO users (name, signature, password_hash, country, gender)
           SELECT 'User ' || i, '@u' || i, 'x', 'pk', 1 + i % 3 FROM generate_series(1, $1) AS i""",
        users,
    )
    await conn.execute(
        """INSERT INTO notification_preferences (user_id, kind, enabled)
           SELECT id, 'gift', false FROM users WHERE id % 4 = 0"""
    )
    await conn.execute("ANALYZE users")


async def bench_inserts(pool: asyncpg.Pool, users: int, inserts: int, concurrency: int, rng: random.Random) -> None:
    notices = [
        Notice(user_id=rng.randint(1, users), kind=rng.choice(("follow", "gift", "system")),
               actor_id=rng.randint(1, users), target_type="user", target_id="1", text="Someone did something.")
        for _ in range(inserts)
    ]  # fmt: skip
    queue = iter(notices)
    stored = 0

    async def worker() -> None:
        nonlocal stored
        for notice in queue:
            async with pool.acquire() as conn:
                row = await store.insert_txn(conn, notice)
            stored += row is not None  # after the await: `stored += await …` would lose concurrent counts

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    print(f"insert: {inserts} notifications, {concurrency} at once: {inserts / elapsed:,.0f}/s "
          f"({stored} stored, {inserts - stored} refused by a preference)")  # fmt: skip


async def timed(reads: int, call: Callable[[], Awaitable[Any]]) -> str:
    timings = []
    for _ in range(reads):
        started = time.perf_counter()
        await call()
        timings.append((time.perf_counter() - started) * 1000)
    q = statistics.quantiles(sorted(timings), n=100)
    return f"p50 {q[49]:.2f} ms, p99 {q[98]:.2f} ms"


async def bench_reads(conn: asyncpg.Connection, heavy: int, reads: int, rng: random.Random) -> None:
    await conn.execute(
        """INSERT INTO notifications (user_id, kind, actor_id, text, read_at)
           SELECT 1, 'follow', 2 + i % 1000, 'Someone followed you.', CASE WHEN i % 2 = 0 THEN now() END
           FROM generate_series(1, $1) AS i""",
        heavy,
    )
    await conn.execute("ANALYZE notifications")
    top = int(await conn.fetchval("SELECT max(id) FROM notifications"))
    print(f"read: user 1 has {heavy:,} notifications (half unread), {reads} calls each:")
    first = await timed(reads, lambda: store.page(conn, 1, unread=False, before=None, limit=21))
    print(f"  first page (limit 20): {first}")
    deep = await timed(reads, lambda: store.page(conn, 1, unread=False, before=rng.randint(1, top), limit=21))
    print(f"  page at a random cursor: {deep}")
    unread = await timed(reads, lambda: store.page(conn, 1, unread=True, before=rng.randint(1, top), limit=21))
    print(f"  unread page at a random cursor: {unread}")
    count = await timed(reads, lambda: store.unread_count(conn, 1))
    print(f"  unread count ({heavy // 2:,} unread): {count}")


async def bench_retention(pool: asyncpg.Pool, conn: asyncpg.Connection, heavy: int) -> None:
    await conn.execute("UPDATE notifications SET created_at = now() - interval '91 days' WHERE user_id = 1")
    svc: Any = SimpleNamespace(pool=pool, config=SimpleNamespace(notification_retention_days=90))
    started = time.perf_counter()
    deleted = 0
    while gone := await actions.purge_old(svc):
        deleted += gone
    elapsed = time.perf_counter() - started
    rate = deleted / elapsed
    print(f"retention: {deleted:,} rows deleted in batches of {actions.RETENTION_BATCH}: {rate:,.0f} rows/s")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--inserts", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--heavy", type=int, default=100_000)
    parser.add_argument("--reads", type=int, default=1000)
    args = parser.parse_args()
    name = f"flylive_bench_notifications_{int(dt.datetime.now().timestamp())}"
    admin = await asyncpg.connect(args.database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = with_database(args.database_url, name)
    rng = random.Random(12)
    try:
        conn = await asyncpg.connect(url)
        await json_codec(conn)
        await migrate(conn)
        await fill(conn, args.users)
        pool = await asyncpg.create_pool(url, min_size=args.concurrency, max_size=args.concurrency, init=json_codec)
        await bench_inserts(pool, args.users, args.inserts, args.concurrency, rng)
        await bench_reads(conn, args.heavy, args.reads, rng)
        await bench_retention(pool, conn, args.heavy)
        await pool.close()
        await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
