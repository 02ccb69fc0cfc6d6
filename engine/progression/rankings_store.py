"""Rankings storage: the Redis sorted sets of live boards, and the PostgreSQL ledger sums, history,
closed periods and reward table (sql/0028)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
from redis.asyncio import Redis

from engine.db import Conn
from engine.lua import LuaScript
from engine.progression.rankings_model import SUBJECT, Board, Span

RANK_ADD = LuaScript(Path(__file__).parent / "lua" / "rank_add.lua")


class SlotCall:
    """One rank_add.lua call: a slot's seen set, its sorted sets, and per transaction its increments."""

    def __init__(self, seen: str, seen_ttl: int, expire_at: int) -> None:
        self.keys: list[str] = [seen]
        self.head = [seen_ttl, expire_at]
        self.body: list[Any] = []  # [[txn_id, [[key index, member, amount], ...]], ...], sent as JSON
        self._index: dict[str, int] = {}

    def key_index(self, key: str) -> int:
        if key not in self._index:
            self.keys.append(key)
            self._index[key] = len(self.keys)  # Lua's KEYS are 1-based
        return self._index[key]

    def add_txn(self, txn_id: str, increments: list[tuple[str, int, int]]) -> None:
        self.body.append([txn_id, [[self.key_index(key), member, amount] for key, member, amount in increments]])


async def apply_slots(redis: Redis, calls: Sequence[SlotCall]) -> int:
    """Run every slot's script at once (the multiplexed client pipelines them): one round trip per batch."""
    script = RANK_ADD.bind(redis)
    results = await asyncio.gather(*(script(keys=c.keys, args=[*c.head, msgspec.json.encode(c.body)]) for c in calls))
    return sum(int(r) for r in results)


async def countries(conn: Conn, users: set[int], rooms: set[int], agencies: set[int]) -> dict[tuple[str, int], str]:
    """(kind, id) -> country, for one flushed batch, in one query."""
    rows = await conn.fetch(
        """SELECT 'user' AS kind, id, country FROM users WHERE id = ANY($1::bigint[]) AND country IS NOT NULL
           UNION ALL SELECT 'room', id, country FROM rooms WHERE id = ANY($2::bigint[]) AND country IS NOT NULL
           UNION ALL SELECT 'agency', id, country FROM agencies WHERE id = ANY($3::bigint[]) AND country IS NOT NULL""",
        list(users), list(rooms), list(agencies),
    )  # fmt: skip
    return {(r["kind"], r["id"]): r["country"] for r in rows}


async def top(redis: Redis, key: str, offset: int, limit: int) -> list[tuple[int, float]]:
    rows: list[Any] = await redis.zrevrange(key, offset, offset + limit - 1, withscores=True)
    return [(int(member), float(score)) for member, score in rows]


async def rank_of(redis: Redis, key: str, member: int) -> tuple[int, int] | None:
    """(1-based rank, score) of a member, or None when not on the board."""
    rank, score = await asyncio.gather(redis.zrevrank(key, member), redis.zscore(key, member))
    if rank is None or score is None:
        return None
    return int(rank) + 1, int(score)


async def count(redis: Redis, key: str) -> int:
    return int(await redis.zcard(key))


async def delete(redis: Redis, keys: Sequence[str]) -> None:
    if keys:
        await redis.delete(*keys)


async def expire(redis: Redis, keys: Sequence[str], seconds: int) -> None:
    await asyncio.gather(*(redis.expire(key, seconds) for key in keys))


async def scan(redis: Redis, pattern: str) -> list[str]:
    return [k.decode() if isinstance(k, bytes) else k async for k in redis.scan_iter(match=pattern, count=500)]


async def replace_board(redis: Redis, key: str, scores: dict[int, int], expire_at: int) -> None:
    """Swap in a board rebuilt from the ledger (delete, then add, in one MULTI)."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(key)
        if scores:
            pipe.zadd(key, {str(m): s for m, s in scores.items()})
            if expire_at:
                pipe.expireat(key, expire_at)
        await pipe.execute()


# --- PostgreSQL ------------------------------------------------------------------------------------

# What each board sums from a period's gift transactions: the same figures as the live update
# (rankings_model.gift_contributions), read from the ledger's metadata. `country` is the member's
# country now (NULL rows drop out of country boards).
_GIFTS = """WITH g AS (
    SELECT t.txn_id, t.initiator_id, t.metadata m,
           (t.metadata ->> 'price')::bigint * (t.metadata ->> 'quantity')::bigint AS per_recipient
    FROM ledger_transactions t
    WHERE t.kind = 'gift' AND t.created_at >= $1 AND ($2::timestamptz IS NULL OR t.created_at < $2)
      AND jsonb_typeof(t.metadata -> 'recipients') = 'array'
      AND coalesce(t.metadata ->> 'price', '') ~ '^[0-9]{1,15}$'
      AND coalesce(t.metadata ->> 'quantity', '') ~ '^[0-9]{1,9}$'
      AND coalesce(t.metadata ->> 'room_id', '') ~ '^[0-9]{1,18}$')"""
_SUMS: dict[Board, str] = {
    "wealth": _GIFTS
    + """, s AS (SELECT initiator_id AS member,
        sum(per_recipient * jsonb_array_length(m -> 'recipients')) AS score
        FROM g WHERE initiator_id IS NOT NULL GROUP BY 1)
        SELECT s.member, s.score, u.country FROM s LEFT JOIN users u ON u.id = s.member""",
    "charm": _GIFTS
    + """, s AS (SELECT r.value::bigint AS member, sum(per_recipient) AS score
        FROM g, jsonb_array_elements_text(m -> 'recipients') r GROUP BY 1)
        SELECT s.member, s.score, u.country FROM s LEFT JOIN users u ON u.id = s.member""",
    "room": _GIFTS
    + """, s AS (SELECT (m ->> 'room_id')::bigint AS member,
        sum(per_recipient * jsonb_array_length(m -> 'recipients')) AS score FROM g GROUP BY 1)
        SELECT s.member, s.score, r.country FROM s LEFT JOIN rooms r ON r.id = s.member""",
    "agency": _GIFTS
    + """, s AS (SELECT (p.value ->> 1)::bigint AS member, sum(per_recipient) AS score
        FROM g, jsonb_array_elements(CASE WHEN jsonb_typeof(m -> 'agency_income') = 'array'
                                          THEN m -> 'agency_income' ELSE '[]'::jsonb END) p GROUP BY 1)
        SELECT s.member, s.score, a.country FROM s LEFT JOIN agencies a ON a.id = s.member""",
}
_ROOM_SENDERS = (
    _GIFTS
    + """ SELECT (m ->> 'room_id')::bigint AS room_id, initiator_id AS member,
    sum(per_recipient * jsonb_array_length(m -> 'recipients')) AS score
    FROM g WHERE initiator_id IS NOT NULL GROUP BY 1, 2"""
)


async def ledger_sums(conn: Conn, board: Board, starts: dt.datetime,
                      ends: dt.datetime | None) -> list[tuple[int, int, str | None]]:  # fmt: skip
    """(member, score, country) of every member of a board over [starts, ends) from the ledger."""
    rows = await conn.fetch(_SUMS[board], starts, ends)
    return [(r["member"], int(r["score"]), r["country"]) for r in rows]


async def ledger_room_senders(conn: Conn, starts: dt.datetime, ends: dt.datetime | None) -> list[tuple[int, int, int]]:
    rows = await conn.fetch(_ROOM_SENDERS, starts, ends)
    return [(r["room_id"], r["member"], int(r["score"])) for r in rows]


async def room_exists(conn: Conn, room_id: int) -> bool:
    return bool(await conn.fetchval("SELECT true FROM rooms WHERE id = $1 AND deleted_at IS NULL", room_id))


async def member_of(conn: Conn, board: Board, user_id: int) -> int | None:
    """What a user is on a board: themself, their room, their agency (None: nothing)."""
    if SUBJECT[board] == "user":
        return user_id
    if board == "room":
        found = await conn.fetchval("SELECT id FROM rooms WHERE user_id = $1 AND deleted_at IS NULL", user_id)
    else:
        found = await conn.fetchval("SELECT agency_id FROM agency_members WHERE user_id = $1 AND left_at IS NULL",
                                    user_id)  # fmt: skip
    return None if found is None else int(found)


async def started_at(conn: Conn) -> dt.datetime:
    value = await conn.fetchval("SELECT started_at FROM ranking_state")
    return value or dt.datetime.now(dt.UTC)


async def closed_periods(conn: Conn, since: dt.date) -> set[tuple[str, str, str]]:
    """(board, period, start) of the periods already closed, from `since` on."""
    rows = await conn.fetch("SELECT board, period, period_start FROM ranking_periods WHERE period_start >= $1", since)
    return {(r["board"], r["period"], r["period_start"].isoformat()) for r in rows}


async def claim_period_txn(conn: Conn, board: Board, span: Span, end_day: dt.date, tz: str) -> bool:
    """Mark the period closed, first thing in the snapshot's transaction; False when it already was (a
    concurrent run waits on the row until the first commits, then finds it)."""
    return await conn.fetchval(
        """INSERT INTO ranking_periods (board, period, period_start, period_end, time_zone, entries)
           VALUES ($1, $2, $3, $4, $5, 0) ON CONFLICT DO NOTHING RETURNING true""",
        board, span.period, dt.date.fromisoformat(span.start), end_day, tz,
    ) is not None  # fmt: skip


async def set_entries_txn(conn: Conn, board: Board, span: Span, entries: int) -> None:
    await conn.execute(
        "UPDATE ranking_periods SET entries = $4 WHERE board = $1 AND period = $2 AND period_start = $3",
        board, span.period, dt.date.fromisoformat(span.start), entries,
    )  # fmt: skip


async def insert_history_txn(conn: Conn, board: Board, span: Span, end_day: dt.date,
                             rows: list[tuple[int, int, int]]) -> None:  # fmt: skip
    column = {"user": "user_id", "room": "room_id", "agency": "agency_id"}[SUBJECT[board]]
    await conn.executemany(
        f"""INSERT INTO ranking_history (board, period, period_start, period_end, rank_position, {column}, score)
            VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        [(board, span.period, dt.date.fromisoformat(span.start), end_day, rank, member, score)
         for rank, member, score in rows],
    )  # fmt: skip


async def reward_table(conn: Conn, board: Board, period: str) -> list[tuple[int, int, int]]:
    rows = await conn.fetch(
        """SELECT rank_from, rank_to, coins FROM ranking_rewards
           WHERE board = $1 AND period = $2 AND is_active ORDER BY rank_from, id""",
        board, period,
    )  # fmt: skip
    return [(r["rank_from"], r["rank_to"], int(r["coins"])) for r in rows]


async def owners(conn: Conn, board: Board, ids: list[int]) -> dict[int, int]:
    """Who is paid for a board entry: the user itself, a room's owner, an agency's owner."""
    if SUBJECT[board] == "user":
        return {i: i for i in ids}
    table = "rooms" if board == "room" else "agencies"
    column = "user_id" if board == "room" else "owner_id"
    rows = await conn.fetch(f"SELECT id, {column} AS owner FROM {table} WHERE id = ANY($1::bigint[])", ids)
    return {r["id"]: r["owner"] for r in rows if r["owner"] is not None}


async def profiles(conn: Conn, kind: str, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Display name and avatar of board members, in one query."""
    if not ids:
        return {}
    query = {
        "user": "SELECT id, name, avatar_image AS avatar_url, country, wealth_level FROM users "
        "WHERE id = ANY($1::bigint[])",
        "room": "SELECT id, name, logo AS avatar_url, country FROM rooms WHERE id = ANY($1::bigint[])",
        "agency": "SELECT id, name, logo_url AS avatar_url, country FROM agencies WHERE id = ANY($1::bigint[])",
    }[kind]
    return {r["id"]: dict(r) for r in await conn.fetch(query, ids)}


async def history_page(conn: Conn, board: Board, period: str, start: dt.date | None,
                       after: tuple[dt.date, int] | None, limit: int) -> list[dict[str, Any]]:  # fmt: skip
    """History rows, newest period first, then by rank; `after` is the last (period_start, rank) seen."""
    rows = await conn.fetch(
        """SELECT id, board, period, period_start, period_end, rank_position, user_id, room_id, agency_id, score
           FROM ranking_history
           WHERE board = $1 AND period = $2 AND ($3::date IS NULL OR period_start = $3)
             AND ($4::date IS NULL OR period_start < $4 OR (period_start = $4 AND rank_position > $5))
           ORDER BY period_start DESC, rank_position LIMIT $6""",
        board, period, start, after[0] if after else None, after[1] if after else 0, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]
