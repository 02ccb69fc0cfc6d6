"""Profile appreciation likes (sql/0029 `profile_appreciations`, `profile_appreciation_counts`):
one row per liker, target and business day; the total is kept by a trigger."""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.db import Conn


async def insert_txn(conn: Conn, liker: int, target: int, day: dt.date) -> bool:
    """Record the like; False when this liker already appreciated the target on that day (racing
    requests: the primary key lets one insert, the others wait for it and conflict)."""
    inserted = await conn.fetchval(
        """INSERT INTO profile_appreciations (liker_id, target_id, day) VALUES ($1, $2, $3)
           ON CONFLICT DO NOTHING RETURNING true""",
        liker, target, day,
    )  # fmt: skip
    return bool(inserted)


async def figures(conn: Conn, viewer: int, target: int, day: dt.date) -> dict[str, Any]:
    row = await conn.fetchrow(
        """SELECT coalesce((SELECT total FROM profile_appreciation_counts WHERE user_id = $2), 0) AS total,
                  (SELECT count(*) FROM profile_appreciations WHERE target_id = $2 AND day = $3) AS today,
                  EXISTS (SELECT 1 FROM profile_appreciations WHERE liker_id = $1 AND target_id = $2 AND day = $3)
                      AS liked_today_by_me""",
        viewer, target, day,
    )  # fmt: skip
    assert row is not None
    return {"total": int(row["total"]), "today": int(row["today"]), "liked_today_by_me": bool(row["liked_today_by_me"])}


async def total(conn: Conn, target: int) -> int:
    value = await conn.fetchval("SELECT total FROM profile_appreciation_counts WHERE user_id = $1", target)
    return int(value or 0)


async def rate_per_minute(conn: Conn) -> int:
    value = await conn.fetchval("SELECT value FROM economy_settings WHERE key = 'appreciation_rate_per_minute'")
    return int(value) if value is not None else 30
