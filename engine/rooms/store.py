"""PostgreSQL access for rooms, room admins and bans, plus the room-level Redis reads.

Live seat and member state is changed only by the Lua scripts in `scripts.py`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from redis.asyncio import Redis

from engine.db import Conn
from engine.keys import Keys

ROOM_COLUMNS = """r.id, r.user_id, r.theme_id, r.popularity_index, r.country, r.name, r.greetings, r.logo,
    r.can_tourists_speak, r.can_tourists_send_text, r.can_tourists_send_files, r.is_hidden, r.type,
    r.created_at, r.updated_at, r.deleted_at, r.description, r.category, r.region, r.tags, r.seat_count,
    r.announcement, r.is_closed, r.closed_at, r.password_hash"""
OWNER_COLUMNS = "u.id AS owner_id, u.name AS owner_name, u.signature AS owner_signature, u.avatar_image AS owner_avatar"

# Columns the owner may change through the API; SQL below interpolates only these names.
EDITABLE = frozenset({"name", "description", "category", "region", "tags", "seat_count", "announcement", "logo",
                      "greetings", "country", "is_hidden", "type", "password_hash", "theme_id",
                      "can_tourists_speak", "can_tourists_send_text", "can_tourists_send_files"})  # fmt: skip


async def get_room(conn: Conn, room_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"""SELECT {ROOM_COLUMNS}, {OWNER_COLUMNS} FROM rooms r JOIN users u ON u.id = r.user_id
            WHERE r.id = $1 AND r.deleted_at IS NULL""",
        room_id,
    )
    return dict(row) if row else None


async def room_of_owner(conn: Conn, user_id: int) -> int | None:
    value = await conn.fetchval("SELECT id FROM rooms WHERE user_id = $1 AND deleted_at IS NULL", user_id)
    return int(value) if value is not None else None


async def insert_room_txn(conn: Conn, owner_id: int, fields: dict[str, Any]) -> int:
    columns = ["user_id", *fields]
    if not set(fields) <= EDITABLE:
        raise ValueError(f"not editable: {set(fields) - EDITABLE}")
    placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    room_id = await conn.fetchval(
        f"INSERT INTO rooms ({', '.join(columns)}) VALUES ({placeholders}) RETURNING id", owner_id, *fields.values()
    )
    return int(room_id)


async def update_room_txn(conn: Conn, room_id: int, fields: dict[str, Any]) -> None:
    if not set(fields) <= EDITABLE:
        raise ValueError(f"not editable: {set(fields) - EDITABLE}")
    assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(fields, start=2))
    await conn.execute(f"UPDATE rooms SET {assignments}, updated_at = now() WHERE id = $1", room_id, *fields.values())


async def set_closed_txn(conn: Conn, room_id: int, closed: bool) -> None:
    await conn.execute(
        """UPDATE rooms SET is_closed = $2, closed_at = CASE WHEN $2 THEN now() END, updated_at = now()
           WHERE id = $1""",
        room_id, closed,
    )  # fmt: skip


async def list_rooms(
    conn: Conn,
    *,
    ids: list[int] | None,
    search: str | None,
    category: str | None,
    country: str | None,
    tag: str | None,
    include_hidden: bool,
    limit: int,
    offset: int,
) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"""SELECT {ROOM_COLUMNS}, {OWNER_COLUMNS} FROM rooms r JOIN users u ON u.id = r.user_id
            WHERE r.deleted_at IS NULL AND NOT r.is_closed
              AND ($1::bigint[] IS NULL OR r.id = ANY($1))
              AND ($2::text IS NULL OR r.name ILIKE '%' || $2 || '%' OR r.description ILIKE '%' || $2 || '%')
              AND ($3::text IS NULL OR r.category = $3)
              AND ($4::text IS NULL OR r.country = $4)
              AND ($5::text IS NULL OR $5 = ANY(r.tags))
              AND ($6 OR NOT r.is_hidden)
            ORDER BY r.popularity_index DESC, r.id DESC LIMIT $7 OFFSET $8""",
        ids, search, category, country, tag, include_hidden, limit, offset,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def admin_ids(conn: Conn, room_id: int) -> set[int]:
    rows = await conn.fetch("SELECT user_id FROM room_admins WHERE room_id = $1", room_id)
    return {int(r["user_id"]) for r in rows}


async def list_admins(conn: Conn, room_id: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT a.user_id, u.name, u.signature, u.avatar_image, a.granted_by, a.granted_at
           FROM room_admins a JOIN users u ON u.id = a.user_id WHERE a.room_id = $1 ORDER BY a.granted_at""",
        room_id,
    )
    return [dict(r) for r in rows]


async def add_admin_txn(conn: Conn, room_id: int, user_id: int, granted_by: int) -> bool:
    result = await conn.execute(
        "INSERT INTO room_admins (room_id, user_id, granted_by) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        room_id, user_id, granted_by,
    )  # fmt: skip
    return result.endswith(" 1")


async def remove_admin_txn(conn: Conn, room_id: int, user_id: int) -> bool:
    result = await conn.execute("DELETE FROM room_admins WHERE room_id = $1 AND user_id = $2", room_id, user_id)
    return result.endswith(" 1")


async def active_ban(conn: Conn, room_id: int, user_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        """SELECT id, expires_at, reason FROM room_bans
           WHERE room_id = $1 AND user_id = $2 AND lifted_at IS NULL AND (expires_at IS NULL OR expires_at > now())""",
        room_id, user_id,
    )  # fmt: skip
    return dict(row) if row else None


async def add_ban_txn(
    conn: Conn, room_id: int, user_id: int, *, banned_by: int, until: dt.datetime | None, reason: str | None
) -> int:
    # A ban that ran out is still "not lifted": close it so the one-active-ban index admits the new one.
    await conn.execute(
        """UPDATE room_bans SET lifted_at = expires_at
           WHERE room_id = $1 AND user_id = $2 AND lifted_at IS NULL AND expires_at <= now()""",
        room_id, user_id,
    )  # fmt: skip
    ban_id = await conn.fetchval(
        """INSERT INTO room_bans (room_id, user_id, banned_by, expires_at, reason) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (room_id, user_id) WHERE lifted_at IS NULL
           DO UPDATE SET expires_at = EXCLUDED.expires_at, reason = EXCLUDED.reason, banned_by = EXCLUDED.banned_by
           RETURNING id""",
        room_id, user_id, banned_by, until, reason,
    )  # fmt: skip
    return int(ban_id)


async def lift_ban_txn(conn: Conn, room_id: int, user_id: int, lifted_by: int) -> bool:
    result = await conn.execute(
        """UPDATE room_bans SET lifted_at = now(), lifted_by = $3
           WHERE room_id = $1 AND user_id = $2 AND lifted_at IS NULL""",
        room_id, user_id, lifted_by,
    )  # fmt: skip
    return not result.endswith(" 0")


async def list_bans(conn: Conn, room_id: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT b.id, b.user_id, u.name, u.signature, b.banned_by, b.reason, b.created_at, b.expires_at
           FROM room_bans b JOIN users u ON u.id = b.user_id
           WHERE b.room_id = $1 AND b.lifted_at IS NULL AND (b.expires_at IS NULL OR b.expires_at > now())
           ORDER BY b.created_at DESC""",
        room_id,
    )
    return [dict(r) for r in rows]


async def live_counts(redis: Redis, keys: Keys, room_ids: list[int]) -> dict[int, int]:
    if not room_ids:
        return {}
    scores = await redis.zmscore(keys.live_rooms(), [str(r) for r in room_ids])
    return {room: int(score or 0) for room, score in zip(room_ids, scores, strict=True)}


async def most_popular(redis: Redis, keys: Keys, limit: int, offset: int) -> list[int]:
    members = await redis.zrevrange(keys.live_rooms(), offset, offset + limit - 1)
    return [int(m) for m in members]  # type: ignore[arg-type]  # members are bytes


async def block_ttl(redis: Redis, keys: Keys, room_id: int, user_id: int) -> int | None:
    """Seconds left on a kick block; None when not blocked."""
    ttl = int(await redis.ttl(keys.room_block(room_id, user_id)))
    return ttl if ttl > 0 else None
