"""PostgreSQL and Redis access for the agency's social side (issue 13 §4): announcements
(sql/0019_agency_social.sql) and the chat channel's recent history (Redis, as room chat keeps its)."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from engine.db import Conn
from engine.keys import Keys
from engine.rooms import store as rooms_store

# The channel's history outlives a quiet week, then goes (a list nobody writes to).
CHAT_TTL_SECONDS = 7 * 86400

_ANNOUNCEMENT = """n.id, n.agency_id, n.author_id, n.title, n.text, n.created_at,
                   u.name AS author_name, u.avatar_image AS author_avatar"""


async def active_role(conn: Conn, agency_id: int, user_id: int) -> str | None:
    """The user's role in the agency if they are a member of it and it is approved and open."""
    role = await conn.fetchval(
        """SELECT m.role FROM agency_members m JOIN agencies a ON a.id = m.agency_id
           WHERE m.agency_id = $1 AND m.user_id = $2 AND m.left_at IS NULL
             AND a.review_status = 'approved' AND a.status <> 'closed'""",
        agency_id, user_id,
    )  # fmt: skip
    return str(role) if role is not None else None


async def insert_announcement_txn(conn: Conn, agency_id: int, author_id: int, title: str, text: str) -> int:
    return int(await conn.fetchval(
        "INSERT INTO agency_announcements (agency_id, author_id, title, text) VALUES ($1, $2, $3, $4) RETURNING id",
        agency_id, author_id, title, text,
    ))  # fmt: skip


async def announcement(conn: Conn, announcement_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"""SELECT {_ANNOUNCEMENT} FROM agency_announcements n LEFT JOIN users u ON u.id = n.author_id
            WHERE n.id = $1""",
        announcement_id,
    )
    return dict(row) if row else None


async def announcements_page(conn: Conn, agency_id: int, before: int | None, limit: int) -> list[dict[str, Any]]:
    """The agency's announcements, newest first."""
    rows = await conn.fetch(
        f"""SELECT {_ANNOUNCEMENT} FROM agency_announcements n LEFT JOIN users u ON u.id = n.author_id
            WHERE n.agency_id = $1 AND ($2::bigint IS NULL OR n.id < $2)
            ORDER BY n.id DESC LIMIT $3""",
        agency_id, before, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def delete_announcement_txn(conn: Conn, announcement_id: int) -> None:
    await conn.execute("DELETE FROM agency_announcements WHERE id = $1", announcement_id)


# --- the chat channel (Redis) ----------------------------------------------------------------------


async def chat_history(redis: Redis, keys: Keys, agency_id: int, count: int) -> list[bytes | str]:
    """The channel's last `count` messages (JSON), newest first."""
    if count <= 0:
        return []
    return list(await redis.lrange(keys.agency_chat(agency_id), 0, count - 1))


async def chat_append(redis: Redis, keys: Keys, agency_id: int, message: str, keep: int) -> None:
    """Keep the message in the channel's history (the last `keep`), in one MULTI."""
    if keep <= 0:
        return
    key = keys.agency_chat(agency_id)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.lpush(key, message)
        pipe.ltrim(key, 0, keep - 1)
        pipe.expire(key, CHAT_TTL_SECONDS)
        await pipe.execute()


async def user_sockets(redis: Redis, keys: Keys, user_id: int) -> list[str]:
    """Every socket id of the user, fleet-wide (the rooms' presence set)."""
    return await rooms_store.user_sockets(redis, keys, user_id)


# --- events ----------------------------------------------------------------------------------------


async def room_exists(conn: Conn, room_id: int) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM rooms WHERE id = $1)", room_id))


async def insert_event_txn(conn: Conn, agency_id: int, user_id: int, title: str, starts_at: Any,
                           room_id: int | None) -> dict[str, Any]:  # fmt: skip
    row = await conn.fetchrow(
        """INSERT INTO agency_events (agency_id, created_by, title, starts_at, room_id)
           VALUES ($1, $2, $3, $4, $5) RETURNING *""",
        agency_id, user_id, title, starts_at, room_id,
    )  # fmt: skip
    assert row is not None
    return dict(row)


async def events_page(conn: Conn, agency_id: int, past: bool, after: tuple[Any, int] | None,
                      limit: int) -> list[dict[str, Any]]:  # fmt: skip
    """Upcoming events soonest first, or (`past`) started ones latest first; keyset on (starts_at, id)."""
    start, last_id = after if after is not None else (None, None)
    if past:
        sql = """SELECT * FROM agency_events WHERE agency_id = $1 AND starts_at <= now()
                   AND ($2::timestamptz IS NULL OR (starts_at, id) < ($2, $3))
                 ORDER BY starts_at DESC, id DESC LIMIT $4"""
    else:
        sql = """SELECT * FROM agency_events WHERE agency_id = $1 AND starts_at > now()
                   AND ($2::timestamptz IS NULL OR (starts_at, id) > ($2, $3))
                 ORDER BY starts_at, id LIMIT $4"""
    rows = await conn.fetch(sql, agency_id, start, last_id, limit)
    return [dict(r) for r in rows]


async def claim_due_events_txn(conn: Conn, lead_minutes: int, batch: int) -> list[dict[str, Any]]:
    """Mark the events of open agencies starting within `lead_minutes` (and not over an hour ago) as
    reminded, and return them with their agency's name and current member ids. Rows another
    process's sweep holds are skipped (FOR UPDATE SKIP LOCKED), so each event is claimed once."""
    rows = await conn.fetch(
        """WITH due AS (
               SELECT e.id FROM agency_events e JOIN agencies a ON a.id = e.agency_id
               WHERE e.reminded_at IS NULL AND e.starts_at <= now() + make_interval(mins => $1)
                 AND e.starts_at > now() - interval '1 hour'
                 AND a.review_status = 'approved' AND a.status <> 'closed'
               ORDER BY e.starts_at LIMIT $2
               FOR UPDATE OF e SKIP LOCKED)
           UPDATE agency_events e SET reminded_at = now() FROM due, agencies a
           WHERE e.id = due.id AND a.id = e.agency_id
           RETURNING e.*, a.name AS agency_name,
                     ARRAY(SELECT m.user_id FROM agency_members m
                           WHERE m.agency_id = e.agency_id AND m.left_at IS NULL ORDER BY m.user_id) AS member_ids""",
        lead_minutes, batch,
    )  # fmt: skip
    return [dict(r) for r in rows]
