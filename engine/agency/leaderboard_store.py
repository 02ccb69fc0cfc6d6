"""Agency leaderboard reads (issue 13 §4): monthly coins per agency and per member within an agency,
summed from `agency_income_events` (sql/0020) over a business month's [start, end) instants (the
index of sql/0024 on `happened_at` serves the all-agencies sum). engine/agency/leaderboard.py pages
and numbers them; the rankings issue reuses both."""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.db import Conn


async def agency_coins_page(conn: Conn, start: dt.datetime, end: dt.datetime, after: tuple[int, int] | None,
                            limit: int) -> list[dict[str, Any]]:  # fmt: skip
    """Approved, open agencies by the coins their members earned in [start, end) (most first, ties
    by agency id), those with any; after the keyset (coins, agency id)."""
    rows = await conn.fetch(
        """SELECT a.id AS agency_id, a.name, a.logo_url, a.country, t.coins
           FROM (SELECT agency_id, sum(coins)::bigint AS coins FROM agency_income_events
                 WHERE happened_at >= $1 AND happened_at < $2 GROUP BY agency_id HAVING sum(coins) > 0) AS t
           JOIN agencies a ON a.id = t.agency_id
           WHERE a.review_status = 'approved' AND a.status <> 'closed'
             AND ($3::bigint IS NULL OR t.coins < $3 OR (t.coins = $3 AND a.id > $4))
           ORDER BY t.coins DESC, a.id LIMIT $5""",
        start, end, after[0] if after else None, after[1] if after else None, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def member_coins_page(conn: Conn, agency_id: int, start: dt.datetime, end: dt.datetime,
                            after: tuple[int, int] | None, limit: int) -> list[dict[str, Any]]:  # fmt: skip
    """The agency's members by the coins they earned in it in [start, end) (most first, ties by user
    id), those with any (a member who left since still counts for what they earned here)."""
    rows = await conn.fetch(
        """SELECT t.user_id, u.name, u.avatar_image, t.coins
           FROM (SELECT user_id, sum(coins)::bigint AS coins FROM agency_income_events
                 WHERE agency_id = $1 AND happened_at >= $2 AND happened_at < $3
                 GROUP BY user_id HAVING sum(coins) > 0) AS t
           JOIN users u ON u.id = t.user_id
           WHERE $4::bigint IS NULL OR t.coins < $4 OR (t.coins = $4 AND t.user_id > $5)
           ORDER BY t.coins DESC, t.user_id LIMIT $6""",
        agency_id, start, end, after[0] if after else None, after[1] if after else None, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]
