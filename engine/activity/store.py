"""The activity log (sql/0016_activity.sql) and the activity streams in Redis that feed it.

Room visits end on the engine's hottest paths (a leave, a disconnect, the reaping of a dead
process), so they are not written to PostgreSQL there: `queue_visit` appends the finished visit to
its user's activity stream on the leave bookkeeping pipeline that runs anyway, and the worker
(engine/activity/worker.py) drains the streams in batches through a consumer group, acknowledging
an entry only after the rows it made are committed. Gifts reach the log from the ledger (a trigger
on the rows the flusher writes); follows in the follow graph's own transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import ResponseError

from engine.activity.model import Visit, decode_visit, encode_visit
from engine.db import Conn
from engine.keys import Keys

# --- the activity streams (Redis) ----------------------------------------------------------------


def queue_visit(pipe: Pipeline, keys: Keys, visit: Visit) -> None:
    """Append a finished visit to its user's stream, on the caller's pipeline (no round trip of its own)."""
    pipe.xadd(keys.activity(keys.shard_of(visit.user_id)), {"v": encode_visit(visit)})


async def create_group(redis: Redis, stream: str, group: str) -> None:
    """Create the stream (if need be) and its consumer group reading from the start; exists: fine."""
    try:
        await redis.xgroup_create(stream, group, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


async def read_entries(
    redis: Redis, stream: str, group: str, consumer: str, count: int, claim_idle_ms: int
) -> list[tuple[bytes, Visit | None]]:
    """Entries another consumer took but left unacknowledged for `claim_idle_ms` (it died before its
    commit), then new ones; each with its visit (None: not one)."""
    try:
        claimed: Any = await redis.xautoclaim(stream, group, consumer, claim_idle_ms, count=count)
    except ResponseError as exc:
        if "NOGROUP" not in str(exc):
            raise
        await create_group(redis, stream, group)
        claimed = await redis.xautoclaim(stream, group, consumer, claim_idle_ms, count=count)
    raw = [(entry_id, fields) for entry_id, fields in claimed[1] if fields]
    if len(raw) < count:
        fresh: Any = await redis.xreadgroup(group, consumer, {stream: ">"}, count=count - len(raw))
        for _stream, items in fresh or []:
            raw.extend(items)
    return [(entry_id, decode_visit(fields.get(b"v", b""))) for entry_id, fields in raw]


async def ack(redis: Redis, stream: str, group: str, entry_ids: list[bytes]) -> None:
    """Acknowledge and delete entries once what they made is committed."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.xack(stream, group, *entry_ids)
        pipe.xdel(stream, *entry_ids)
        await pipe.execute()


async def backlog(redis: Redis, stream: str) -> int:
    """Entries not yet committed to PostgreSQL (an entry stays in the stream until acknowledged)."""
    return int(await redis.xlen(stream))


# --- the log (PostgreSQL) -----------------------------------------------------------------------


async def insert_visits_txn(conn: Conn, visits: list[Visit]) -> int:
    """Write visits; a visit already written (a redelivered entry) or of a user since deleted writes
    nothing. How many were new."""
    columns = [[getattr(v, name) for v in visits] for name in ("user_id", "room_id", "joined_ms", "left_ms", "mic_ms")]
    inserted = await conn.fetchval(
        """WITH v AS (
               INSERT INTO user_activity (user_id, kind, room_id, duration_ms, mic_ms, source, happened_at)
               SELECT x.user_id, 'room_visit', x.room_id, greatest(x.left_ms - x.joined_ms, 0), x.mic_ms,
                      x.room_id || ':' || x.user_id || ':' || x.joined_ms, to_timestamp(x.left_ms / 1000.0)
               FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[])
                    AS x (user_id, room_id, joined_ms, left_ms, mic_ms)
               JOIN users u ON u.id = x.user_id
               ON CONFLICT (kind, source) DO NOTHING RETURNING 1)
           SELECT count(*) FROM v""",
        *columns,
    )
    return int(inserted)


async def record_follow_txn(conn: Conn, follower: int, target: int, *, followed: bool) -> None:
    """A follow (or an unfollow, for the followers trend), in the transaction that changed the edge.
    The source names the pair and the transaction: one row per change, however often it is toggled."""
    await conn.execute(
        """INSERT INTO user_activity (user_id, kind, other_user_id, source, happened_at)
           VALUES ($1, $3, $2, $4 || txid_current(), now())
           ON CONFLICT (kind, source) DO NOTHING""",
        follower, target, "follow" if followed else "unfollow", f"{follower}:{target}:",
    )  # fmt: skip


async def record_level_ups_txn(conn: Conn, rises: list[tuple[str, int, int | None, int, int]]) -> int:
    """Level rises (type, user, room, from, to) in the level watcher's transaction: the room's owner
    for a room level. One row per level first reached by a type's subject (the source names it), so
    a change told again, or a fall and a new rise, adds none; how many were new."""
    if not rises:
        return 0
    inserted = await conn.fetchval(
        """WITH v AS (
               INSERT INTO user_activity (user_id, kind, room_id, data, source, happened_at)
               SELECT x.u, 'level_up', x.r, jsonb_build_object('type', x.t, 'from_level', x.f, 'to_level', x.l),
                      x.t || ':' || coalesce(x.r, x.u) || ':' || x.l, now()
               FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::int[], $5::int[]) AS x (t, u, r, f, l)
               JOIN users u ON u.id = x.u
               ON CONFLICT (kind, source) DO NOTHING RETURNING 1)
           SELECT count(*) FROM v""",
        *([rise[i] for rise in rises] for i in range(5)),
    )
    return int(inserted)


_PAGE = """SELECT a.id, a.kind, a.other_user_id, a.room_id, a.coins, a.duration_ms, a.mic_ms, a.data,
                  a.happened_at, o.name AS other_name, o.avatar_image AS other_avatar
           FROM user_activity a LEFT JOIN users o ON o.id = a.other_user_id
           WHERE a.user_id = $1 AND a.kind = ANY($2::text[]) AND ($3::bigint IS NULL OR a.id < $3)
             AND ($4::bigint IS NULL OR a.other_user_id IS NULL OR (
               NOT EXISTS (SELECT 1 FROM user_blocks b WHERE b.blocker_id = $4 AND b.blocked_id = a.other_user_id)
               AND NOT EXISTS (SELECT 1 FROM user_blocks b
                               WHERE b.blocker_id = a.other_user_id AND b.blocked_id = $4)))
           ORDER BY a.id DESC LIMIT $5"""


async def page(
    conn: Conn, user_id: int, kinds: list[str], before: int | None, limit: int, hide_blocked_of: int | None
) -> list[dict[str, Any]]:
    """Newest recorded first, keyset on the id (rows recorded while a client pages land before its
    first page). `hide_blocked_of`: leave out rows whose other user is in a block with this viewer."""
    rows = await conn.fetch(_PAGE, user_id, kinds, before, hide_blocked_of, limit)
    return [dict(r) for r in rows]


async def totals(conn: Conn, user_id: int) -> dict[str, int]:
    row = await conn.fetchrow(
        """SELECT count(*) FILTER (WHERE kind = 'room_visit') AS visits,
                  count(DISTINCT room_id) FILTER (WHERE kind = 'room_visit') AS rooms,
                  coalesce(sum(duration_ms) FILTER (WHERE kind = 'room_visit'), 0) AS visit_ms,
                  coalesce(sum(mic_ms) FILTER (WHERE kind = 'room_visit'), 0) AS mic_ms,
                  count(*) FILTER (WHERE kind = 'gift_sent') AS gifts_sent,
                  coalesce(sum(coins) FILTER (WHERE kind = 'gift_sent'), 0) AS sent_coins,
                  count(*) FILTER (WHERE kind = 'gift_received') AS gifts_received,
                  coalesce(sum(coins) FILTER (WHERE kind = 'gift_received'), 0) AS received_coins
           FROM user_activity WHERE user_id = $1""",
        user_id,
    )
    return {name: int(value) for name, value in row.items()} if row is not None else {}


async def follows_by_week(conn: Conn, user_id: int, since: dt.datetime) -> dict[dt.date, tuple[int, int]]:
    """Follows gained and lost by the user per week (Monday, UTC) since `since`."""
    rows = await conn.fetch(
        """SELECT (date_trunc('week', happened_at AT TIME ZONE 'UTC'))::date AS week,
                  count(*) FILTER (WHERE kind = 'follow') AS gained, count(*) FILTER (WHERE kind = 'unfollow') AS lost
           FROM user_activity WHERE other_user_id = $1 AND kind IN ('follow', 'unfollow') AND happened_at >= $2
           GROUP BY 1""",
        user_id, since,
    )  # fmt: skip
    return {r["week"]: (int(r["gained"]), int(r["lost"])) for r in rows}


async def delete_older_than(conn: Conn, cutoff: dt.datetime, batch: int) -> int:
    """Delete up to `batch` rows that happened before `cutoff`, oldest first; how many went. Rows
    another process is deleting at the same moment are skipped, not waited for."""
    return int(
        await conn.fetchval(
            """WITH gone AS (
                   DELETE FROM user_activity WHERE id = ANY(ARRAY(
                       SELECT id FROM user_activity WHERE happened_at < $1
                       ORDER BY happened_at LIMIT $2 FOR UPDATE SKIP LOCKED))
                   RETURNING 1)
               SELECT count(*) FROM gone""",
            cutoff,
            batch,
        )
    )
