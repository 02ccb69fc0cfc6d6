"""PostgreSQL access for stored notifications and their preferences (sql/0012_social.sql, 0013)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.db import Conn
from engine.notifications.model import Notice

# A notification with its actor's current name and avatar (the actor may have changed them since).
_WITH_ACTOR = """n.id, n.user_id, n.kind, n.actor_id, n.target_type, n.target_id, n.text, n.data,
                 n.created_at, n.read_at, a.name AS actor_name, a.avatar_image AS actor_avatar"""


async def insert_txn(conn: Conn, notice: Notice, *, once_until_read: bool = False) -> dict[str, Any] | None:
    """Store the notice, unless the user switched its kind off (then None): one statement, so a
    preference changed at the same moment is either seen whole or not at all. `once_until_read`:
    not while the user has an unread notice of this kind from the same actor either (a follow
    toggled again and again, a burst of messages, notify once until read)."""
    row = await conn.fetchrow(
        f"""WITH n AS (
                INSERT INTO notifications (user_id, kind, actor_id, target_type, target_id, text, data)
                SELECT $1, $2, $3, $4, $5, $6, $7
                WHERE NOT EXISTS (SELECT 1 FROM notification_preferences
                                  WHERE user_id = $1 AND kind = $2 AND NOT enabled)
                  AND NOT ($8 AND EXISTS (SELECT 1 FROM notifications
                                          WHERE user_id = $1 AND kind = $2 AND actor_id = $3 AND read_at IS NULL))
                RETURNING *)
            SELECT {_WITH_ACTOR} FROM n LEFT JOIN users a ON a.id = n.actor_id""",
        notice.user_id, notice.kind, notice.actor_id, notice.target_type, notice.target_id, notice.text[:500],
        notice.data, once_until_read,
    )  # fmt: skip
    return dict(row) if row is not None else None


async def insert_for_users_txn(conn: Conn, user_ids: list[int], notice: Notice) -> list[dict[str, Any]]:
    """Store the same notice (its `user_id` aside) for each of these users in one statement, leaving
    out those who switched its kind off; the stored rows (an agency announcement to its members)."""
    rows = await conn.fetch(
        f"""WITH n AS (
                INSERT INTO notifications (user_id, kind, actor_id, target_type, target_id, text, data)
                SELECT u, $2, $3, $4, $5, $6, $7 FROM unnest($1::bigint[]) AS u
                WHERE NOT EXISTS (SELECT 1 FROM notification_preferences p
                                  WHERE p.user_id = u AND p.kind = $2 AND NOT p.enabled)
                RETURNING *)
            SELECT {_WITH_ACTOR} FROM n LEFT JOIN users a ON a.id = n.actor_id""",
        user_ids, notice.kind, notice.actor_id, notice.target_type, notice.target_id, notice.text[:500], notice.data,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def delete_between_txn(conn: Conn, a: int, b: int) -> int:
    """Delete what each of the two users was notified of by the other (a block: neither keeps the
    other's name in their notifications); how many went."""
    return int(
        await conn.fetchval(
            """WITH gone AS (DELETE FROM notifications
                             WHERE (user_id = $1 AND actor_id = $2) OR (user_id = $2 AND actor_id = $1) RETURNING 1)
               SELECT count(*) FROM gone""",
            a,
            b,
        )
    )


# Newest first, keyset on the id: rows inserted while a client pages land before its first page.
_PAGE = f"""SELECT {_WITH_ACTOR} FROM notifications n LEFT JOIN users a ON a.id = n.actor_id
            WHERE n.user_id = $1 AND ($2::bigint IS NULL OR n.id < $2) {{unread}}
            ORDER BY n.id DESC LIMIT $3"""
_ALL_PAGE = _PAGE.format(unread="")
_UNREAD_PAGE = _PAGE.format(unread="AND n.read_at IS NULL")


async def page(conn: Conn, user_id: int, *, unread: bool, before: int | None, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(_UNREAD_PAGE if unread else _ALL_PAGE, user_id, before, limit)
    return [dict(r) for r in rows]


async def mark_read(conn: Conn, user_id: int, ids: list[int]) -> int:
    """Mark these of the user's notifications read (ids that are not theirs, or already read, change
    nothing); how many were unread."""
    return int(
        await conn.fetchval(
            """WITH r AS (UPDATE notifications SET read_at = now()
                          WHERE user_id = $1 AND id = ANY($2::bigint[]) AND read_at IS NULL RETURNING 1)
               SELECT count(*) FROM r""",
            user_id,
            ids,
        )
    )


async def mark_all_read(conn: Conn, user_id: int) -> int:
    return int(
        await conn.fetchval(
            """WITH r AS (UPDATE notifications SET read_at = now()
                          WHERE user_id = $1 AND read_at IS NULL RETURNING 1)
               SELECT count(*) FROM r""",
            user_id,
        )
    )


async def unread_count(conn: Conn, user_id: int) -> int:
    return int(
        await conn.fetchval("SELECT count(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL", user_id)
    )


async def preference_rows(conn: Conn, user_id: int) -> dict[str, bool]:
    """The kinds the user changed, with their setting."""
    rows = await conn.fetch("SELECT kind, enabled FROM notification_preferences WHERE user_id = $1", user_id)
    return {r["kind"]: bool(r["enabled"]) for r in rows}


async def set_preferences(conn: Conn, user_id: int, changes: dict[str, bool]) -> None:
    await conn.fetch(
        """INSERT INTO notification_preferences (user_id, kind, enabled)
           SELECT $1, kind, enabled FROM unnest($2::text[], $3::boolean[]) AS c (kind, enabled)
           ON CONFLICT (user_id, kind) DO UPDATE SET enabled = excluded.enabled, updated_at = now()""",
        user_id, list(changes), list(changes.values()),
    )  # fmt: skip


async def delete_older_than(conn: Conn, cutoff: dt.datetime, batch: int) -> int:
    """Delete up to `batch` notifications created before `cutoff`, oldest first; how many went.
    Rows another process is deleting at the same moment are skipped, not waited for."""
    return int(
        await conn.fetchval(
            """WITH gone AS (
                   DELETE FROM notifications WHERE id = ANY(ARRAY(
                       SELECT id FROM notifications WHERE created_at < $1
                       ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED))
                   RETURNING 1)
               SELECT count(*) FROM gone""",
            cutoff,
            batch,
        )
    )


async def mark_read_from_txn(conn: Conn, user_id: int, kind: str, actor_id: int) -> int:
    """Mark read the user's unread notifications of this kind from this actor (a direct-message
    thread seen: its `dm` notifications are read too); how many were unread."""
    return int(
        await conn.fetchval(
            """WITH r AS (UPDATE notifications SET read_at = now()
                          WHERE user_id = $1 AND kind = $2 AND actor_id = $3 AND read_at IS NULL RETURNING 1)
               SELECT count(*) FROM r""",
            user_id,
            kind,
            actor_id,
        )
    )
