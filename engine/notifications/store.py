"""PostgreSQL access for stored notifications.

Minimal for now: the follow graph stores one here (engine/social/follows.py). The notification
routes, preferences and retention (issue 12 §5) build on this table and these functions.
"""

from __future__ import annotations

from typing import Any

from engine.db import Conn


async def insert_txn(
    conn: Conn,
    *,
    user_id: int,
    kind: str,
    actor_id: int | None,
    target_type: str | None,
    target_id: str | None,
    text: str,
    data: dict[str, Any] | None = None,
) -> int:
    notification_id = await conn.fetchval(
        """INSERT INTO notifications (user_id, kind, actor_id, target_type, target_id, text, data)
           VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id""",
        user_id, kind, actor_id, target_type, target_id, text[:500], data or {},
    )  # fmt: skip
    return int(notification_id)


async def has_unread_txn(conn: Conn, user_id: int, kind: str, actor_id: int) -> bool:
    """Whether the user still has an unread notification of this kind from this actor."""
    return bool(
        await conn.fetchval(
            """SELECT EXISTS (SELECT 1 FROM notifications
                              WHERE user_id = $1 AND kind = $2 AND actor_id = $3 AND read_at IS NULL)""",
            user_id,
            kind,
            actor_id,
        )
    )
