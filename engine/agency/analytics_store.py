"""Agency analytics and leaderboard reads (issue 13 §4): membership spans per business day
(`agency_members`, whose rows are never deleted: they end with `left_at`) and income per business
day, member and agency (`agency_income_events`, sql/0020). Every query takes the range as business
dates plus the business time zone (a PostgreSQL zone name, the same IANA names), or as [start, end)
instants; indexes in sql/0024."""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.db import Conn

# A business day's [starts, ends) instants, for the days $2..$3 (dates) in zone $4.
_DAYS = """days AS (
    SELECT $2::date + i AS day, ($2::date + i)::timestamp AT TIME ZONE $4 AS starts,
           ($2::date + i + 1)::timestamp AT TIME ZONE $4 AS ends
    FROM generate_series(0, $3::date - $2::date) AS i)"""


async def membership_days(conn: Conn, agency_id: int, first: dt.date, last: dt.date, tz: str) -> list[dict[str, Any]]:
    """Per day: members at the day's end, memberships begun and ended during it (a member who
    left and came back counts each time). members(d) = members(d-1) + joined(d) - ended(d)."""
    rows = await conn.fetch(
        f"""WITH {_DAYS},
           spans AS (SELECT joined_at, left_at FROM agency_members
                     WHERE agency_id = $1 AND joined_at < ($3::date + 1)::timestamp AT TIME ZONE $4
                       AND (left_at IS NULL OR left_at >= $2::date::timestamp AT TIME ZONE $4))
           SELECT day,
                  count(s.joined_at) FILTER (WHERE s.joined_at < ends AND (s.left_at IS NULL OR s.left_at >= ends))
                      AS members,
                  count(s.joined_at) FILTER (WHERE s.joined_at >= starts AND s.joined_at < ends) AS joined,
                  count(s.joined_at) FILTER (WHERE s.left_at >= starts AND s.left_at < ends) AS ended
           FROM days LEFT JOIN spans s ON true GROUP BY day ORDER BY day""",
        agency_id, first, last, tz,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def income_days(conn: Conn, agency_id: int, start: dt.datetime, end: dt.datetime,
                      tz: str) -> list[dict[str, Any]]:  # fmt: skip
    """Per business day with any income: the members' coins, mic time and how many were active."""
    rows = await conn.fetch(
        """SELECT day, sum(coins)::bigint AS coins, sum(mic_ms)::bigint AS mic_ms,
                  count(*) FILTER (WHERE coins > 0 OR mic_ms > 0) AS active
           FROM (SELECT (happened_at AT TIME ZONE $4)::date AS day, user_id, sum(coins) AS coins,
                        sum(mic_ms) AS mic_ms
                 FROM agency_income_events
                 WHERE agency_id = $1 AND happened_at >= $2 AND happened_at < $3
                 GROUP BY 1, 2) AS member_days
           GROUP BY day""",
        agency_id, start, end, tz,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def active_members(conn: Conn, agency_id: int, start: dt.datetime, end: dt.datetime) -> int:
    """Members with any income or mic time in [start, end)."""
    return int(await conn.fetchval(
        """SELECT count(DISTINCT user_id) FROM agency_income_events
           WHERE agency_id = $1 AND happened_at >= $2 AND happened_at < $3 AND (coins > 0 OR mic_ms > 0)""",
        agency_id, start, end,
    ))  # fmt: skip


async def top_members(conn: Conn, agency_id: int, start: dt.datetime, end: dt.datetime,
                      limit: int) -> list[dict[str, Any]]:  # fmt: skip
    """The members who earned the most coins for the agency in [start, end), ties by user id."""
    rows = await conn.fetch(
        """SELECT t.user_id, u.name, u.avatar_image, t.coins
           FROM (SELECT user_id, sum(coins)::bigint AS coins FROM agency_income_events
                 WHERE agency_id = $1 AND happened_at >= $2 AND happened_at < $3
                 GROUP BY user_id HAVING sum(coins) > 0) AS t
           JOIN users u ON u.id = t.user_id
           ORDER BY t.coins DESC, t.user_id LIMIT $4""",
        agency_id, start, end, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def member_activity_page(
    conn: Conn, agency_id: int, start: dt.datetime, end: dt.datetime, tz: str, cap_seconds: int,
    after: tuple[int, int] | None, limit: int,
) -> list[dict[str, Any]]:  # fmt: skip
    """Everyone who was a member at some point of [start, end), most active days first (ties by user
    id), after the keyset `after`: active days, coins, mic time and valid seconds (each day's mic
    time capped at `cap_seconds`), and their current role (None once they left)."""
    rows = await conn.fetch(
        """WITH people AS (SELECT DISTINCT user_id FROM agency_members
                           WHERE agency_id = $1 AND joined_at < $3 AND (left_at IS NULL OR left_at > $2)),
                member_days AS (SELECT user_id, (happened_at AT TIME ZONE $4)::date AS day,
                                       sum(coins)::bigint AS coins, sum(mic_ms)::bigint AS mic_ms
                                FROM agency_income_events
                                WHERE agency_id = $1 AND happened_at >= $2 AND happened_at < $3
                                GROUP BY 1, 2),
                figures AS (SELECT user_id, count(*) FILTER (WHERE coins > 0 OR mic_ms > 0) AS active_days,
                                   sum(coins)::bigint AS coins, sum(mic_ms)::bigint AS mic_ms,
                                   sum(least(mic_ms / 1000, $5))::bigint AS valid_seconds
                            FROM member_days GROUP BY user_id),
                listed AS (SELECT p.user_id, coalesce(f.active_days, 0) AS active_days, coalesce(f.coins, 0) AS coins,
                                coalesce(f.mic_ms, 0) AS mic_ms, coalesce(f.valid_seconds, 0) AS valid_seconds
                         FROM (SELECT user_id FROM people UNION SELECT user_id FROM figures) AS p
                         LEFT JOIN figures f USING (user_id))
           SELECT r.*, u.name, u.avatar_image, m.role
           FROM listed r JOIN users u ON u.id = r.user_id
           LEFT JOIN agency_members m ON m.agency_id = $1 AND m.user_id = r.user_id AND m.left_at IS NULL
           WHERE $6::bigint IS NULL OR r.active_days < $6 OR (r.active_days = $6 AND r.user_id > $7)
           ORDER BY r.active_days DESC, r.user_id LIMIT $8""",
        agency_id, start, end, tz, cap_seconds, after[0] if after else None, after[1] if after else None, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def members_in_range(conn: Conn, agency_id: int, user_ids: list[int], start: dt.datetime,
                           end: dt.datetime) -> dict[int, dict[str, Any]]:  # fmt: skip
    """Those of `user_ids` who were members of the agency at some point of [start, end), by id."""
    rows = await conn.fetch(
        """SELECT u.id AS user_id, u.name, u.avatar_image FROM users u
           WHERE u.id = ANY($2::bigint[]) AND EXISTS (
               SELECT 1 FROM agency_members m WHERE m.agency_id = $1 AND m.user_id = u.id
                 AND m.joined_at < $4 AND (m.left_at IS NULL OR m.left_at > $3))""",
        agency_id, user_ids, start, end,
    )  # fmt: skip
    return {r["user_id"]: dict(r) for r in rows}


async def member_days(conn: Conn, agency_id: int, user_ids: list[int], start: dt.datetime, end: dt.datetime,
                      tz: str) -> list[dict[str, Any]]:  # fmt: skip
    """Each of `user_ids`' coins and mic time per business day with any, in this agency."""
    rows = await conn.fetch(
        """SELECT user_id, (happened_at AT TIME ZONE $5)::date AS day, sum(coins)::bigint AS coins,
                  sum(mic_ms)::bigint AS mic_ms
           FROM agency_income_events
           WHERE agency_id = $1 AND user_id = ANY($2::bigint[]) AND happened_at >= $3 AND happened_at < $4
           GROUP BY 1, 2""",
        agency_id, user_ids, start, end, tz,
    )  # fmt: skip
    return [dict(r) for r in rows]
