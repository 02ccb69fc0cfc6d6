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
