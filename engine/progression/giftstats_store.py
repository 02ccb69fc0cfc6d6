"""Gift statistics reads (docs/progression.md "Gift statistics and appreciation"): the `gift_stats`
rollup of the gift ledger (sql/0029), one user's rows in a time range, read by its primary key
(user_id, slot, …). Business days are cut here from instants the model computed in Python (the
zone's rules are Python's, never a PostgreSQL zone name), so a slot is counted on the day whose
[start, end) holds it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.db import Conn


async def tallies(conn: Conn, user_id: int, start: dt.datetime, end: dt.datetime, limit: int) -> list[dict[str, Any]]:
    """In one scan: per direction the totals (gift_id and other_id null), the top `limit` gifts and
    the top `limit` other users, by coins (most first; ties by id)."""
    rows = await conn.fetch(
        """WITH sets AS (
               SELECT direction, gift_id, other_id, sum(quantity)::bigint AS quantity, sum(coins)::bigint AS coins,
                      GROUPING(gift_id, other_id) AS grouping
               FROM gift_stats WHERE user_id = $1 AND slot >= $2 AND slot < $3
               GROUP BY GROUPING SETS ((direction), (direction, gift_id), (direction, other_id)))
           SELECT direction, gift_id, other_id, quantity, coins FROM (
               SELECT *, row_number() OVER (PARTITION BY direction, grouping
                                            ORDER BY coins DESC, coalesce(gift_id, other_id)) AS n
               FROM sets) AS ranked
           WHERE n <= $4 ORDER BY direction, grouping DESC, n""",
        user_id, start, end, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def trend(conn: Conn, user_id: int, bounds: list[dt.datetime]) -> list[dict[str, Any]]:
    """Coins sent and received per day: `bucket` i is the day from bounds[i-1] to bounds[i]."""
    rows = await conn.fetch(
        """SELECT width_bucket(slot, $2::timestamptz[]) AS bucket,
                  coalesce(sum(coins) FILTER (WHERE direction = 'sent'), 0)::bigint AS sent,
                  coalesce(sum(coins) FILTER (WHERE direction = 'received'), 0)::bigint AS received
           FROM gift_stats WHERE user_id = $1 AND slot >= $3 AND slot < $4
           GROUP BY 1""",
        user_id, bounds, bounds[0], bounds[-1],
    )  # fmt: skip
    return [dict(r) for r in rows]


async def gifts_by_id(conn: Conn, gift_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Names and icons, deleted gifts too (they were given once)."""
    rows = await conn.fetch("SELECT id, name, static_src FROM gifts WHERE id = ANY($1::bigint[])", gift_ids)
    return {int(r["id"]): dict(r) for r in rows}


async def users_by_id(conn: Conn, user_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Display names and avatars in one read; accounts that are gone are left out."""
    rows = await conn.fetch(
        "SELECT id, name, avatar_image FROM users WHERE id = ANY($1::bigint[]) AND deleted_at IS NULL", user_ids
    )
    return {int(r["id"]): dict(r) for r in rows}
