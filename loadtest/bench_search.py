"""Social benchmark: user search latency on a big users table, and follow throughput.

    .venv/bin/python loadtest/bench_search.py --database-url postgresql://postgres@127.0.0.1:5432/postgres \
        [--users 1000000] [--searches 2000] [--follows 5000] [--concurrency 16]

Creates a throw-away database beside the one named (dropped at the end unless --keep), migrates it,
fills `users` with --users rows (generate_series; names "<first> <last> <n>" over a small
vocabulary, so short prefixes match many rows) and ANALYZEs it. Then:

search: --searches calls of the store's own queries (engine/social/store.py: `search_names`, then
`search_handles` when a page is not full, as GET /api/v1/users/search runs them), one at a time, for
random 1–4 letter prefixes, limit 20; prints p50/p95/p99/max in ms.

follow: --follows follow transactions as engine/social/follows.py runs them (pair lock, block check,
edge, counts, notification), --concurrency at once among random pairs of the first 10,000 users;
prints transactions per second.

Prints its figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import string
import sys
import time
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.migrations import migrate
from engine.notifications import store as notifications
from engine.notifications.model import Notice
from engine.social import store
from engine.social.model import follow_deltas

FIRST = ["ali", "sara", "omar", "lina", "zain", "maya", "adam", "noor", "yusuf", "hana", "bilal", "amir"]
LAST = ["khan", "ahmed", "malik", "shah", "raza", "iqbal", "butt", "chaudhry", "qureshi", "sheikh"]


async def json_codec(conn: asyncpg.Connection) -> None:
    """jsonb as the engine's pool reads and writes it (engine/db.py)."""
    await conn.set_type_codec("jsonb", schema="pg_catalog", encoder=json.dumps, decoder=json.loads, format="text")


def with_database(url: str, name: str) -> str:
    return f"{url.rpartition('/')[0]}/{name}"


async def fill(conn: asyncpg.Connection, users: int) -> None:
    started = time.perf_counter()
    await conn.execute(
        """INSERT INTO users (name, signature, password_hash, country, gender)
           SELECT initcap(($1::text[])[1 + i % array_length($1, 1)] || ' '
                          || ($2::text[])[1 + (i / 7) % array_length($2, 1)]) || ' ' || i,
                  '@' || ($1::text[])[1 + (i / 3) % array_length($1, 1)] || '_' || i, 'x', 'pk', 1 + i % 3
           FROM generate_series(1, $3) AS i""",
        FIRST, LAST, users,
    )  # fmt: skip
    await conn.execute("ANALYZE users")
    print(f"filled {users:,} users in {time.perf_counter() - started:.1f} s")


async def bench_search(conn: asyncpg.Connection, searches: int, rng: random.Random) -> None:
    timings = []
    for _ in range(searches):
        prefix = rng.choice(FIRST)[: rng.randint(1, 4)] if rng.random() < 0.8 else rng.choice(string.ascii_lowercase)
        started = time.perf_counter()
        rows = await store.search_names(conn, 1, prefix, None, None, None, None, 21)
        if len(rows) < 21:
            await store.search_handles(conn, 1, prefix, prefix, None, None, None, None, 21 - len(rows))
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    q = statistics.quantiles(timings, n=100)
    print(f"search ({searches} prefix searches, limit 20): p50 {q[49]:.2f} ms, p95 {q[94]:.2f} ms, "
          f"p99 {q[98]:.2f} ms, max {timings[-1]:.2f} ms")  # fmt: skip


async def one_follow(pool: asyncpg.Pool, follower: int, target: int) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await store.lock_pair_txn(conn, follower, target)
        rel = await store.relationship(conn, follower, target)
        if rel.blocked:
            return
        if await store.insert_follow_txn(conn, follower, target):
            await store.add_counts_txn(conn, follow_deltas(follower, target, mutual=rel.followed_by))
            if not await notifications.has_unread_txn(conn, target, "follow", follower):
                notice = Notice(user_id=target, kind="follow", actor_id=follower, target_type="user",
                                target_id=str(follower), text="followed you")  # fmt: skip
                await notifications.insert_txn(conn, notice)
        await store.counts(conn, target)


async def bench_follows(pool: asyncpg.Pool, follows: int, concurrency: int, rng: random.Random) -> None:
    pairs = [tuple(rng.sample(range(1, 10_001), 2)) for _ in range(follows)]
    queue = iter(pairs)

    async def worker() -> None:
        for follower, target in queue:
            await one_follow(pool, follower, target)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    print(f"follow: {follows} transactions, {concurrency} at once: {follows / elapsed:,.0f}/s")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--searches", type=int, default=2000)
    parser.add_argument("--follows", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--keep", action="store_true", help="keep the database (named in the output)")
    args = parser.parse_args()
    name = f"flylive_bench_search_{args.users}"
    admin = await asyncpg.connect(args.database_url)
    exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
    if not exists:
        await admin.execute(f'CREATE DATABASE "{name}"')
    url = with_database(args.database_url, name)
    rng = random.Random(7)
    try:
        conn = await asyncpg.connect(url)
        await migrate(conn)
        if not await conn.fetchval("SELECT count(*) >= $1 FROM users", args.users):
            await fill(conn, args.users)
        await bench_search(conn, args.searches, rng)
        await conn.close()
        pool = await asyncpg.create_pool(url, min_size=args.concurrency, max_size=args.concurrency, init=json_codec)
        await bench_follows(pool, args.follows, args.concurrency, rng)
        await pool.close()
    finally:
        if not args.keep:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            print(f"kept database {name}")
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
