"""PostgreSQL access for system announcements (sql/0036_system.sql)."""

from __future__ import annotations

from typing import Any

from engine.db import Conn


async def add_announcement_txn(conn: Conn, message: str, level: str, actor_id: int) -> dict[str, Any]:
    row = await conn.fetchrow(
        """INSERT INTO system_announcements (message, level, sent_by) VALUES ($1, $2, $3)
           RETURNING id, message, level, sent_at, sent_by""",
        message, level, actor_id,
    )  # fmt: skip
    assert row is not None  # INSERT … RETURNING always returns the row
    return dict(row)


async def recent_announcements(conn: Conn, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT a.id, a.message, a.level, a.sent_at, a.sent_by, u.name AS sent_by_name
           FROM system_announcements a LEFT JOIN users u ON u.id = a.sent_by
           ORDER BY a.id DESC LIMIT $1""",
        limit,
    )
    return [dict(r) for r in rows]
