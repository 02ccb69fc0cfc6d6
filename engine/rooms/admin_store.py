"""Reads for the dashboard's Rooms section (issue 15 §6): the live rooms by member count and, for
one room, who is in it and on which seat (its live state in Redis). Dashboard-only reads; every
change goes through the rooms' own actions (engine/rooms/moderation.py, profiles.py)."""

from __future__ import annotations

from typing import Any

import msgspec
from redis.asyncio import Redis

from engine.db import Conn
from engine.keys import Keys
from engine.rooms.store import OWNER_COLUMNS, ROOM_COLUMNS

_decoder = msgspec.json.Decoder()


async def live_room_ids(redis: Redis, keys: Keys, limit: int, offset: int) -> list[tuple[int, int]]:
    """(room id, members) of the live rooms, most members first."""
    rows = await redis.zrevrange(keys.live_rooms(), offset, offset + limit - 1, withscores=True)
    return [(int(row[0]), int(row[1])) for row in rows]


async def seated_counts(redis: Redis, keys: Keys, room_ids: list[int]) -> dict[int, int]:
    """How many seats are taken in each room (held for a reconnect counts)."""
    async with redis.pipeline(transaction=False) as pipe:
        for room_id in room_ids:
            pipe.hlen(keys.room(room_id).seat_of)
        counts = await pipe.execute()
    return {room_id: int(n) for room_id, n in zip(room_ids, counts, strict=True)}


async def live_room_total(redis: Redis, keys: Keys) -> int:
    return int(await redis.zcard(keys.live_rooms()))


async def rooms_by_id(conn: Conn, room_ids: list[int]) -> dict[int, dict[str, Any]]:
    rows = await conn.fetch(
        f"""SELECT {ROOM_COLUMNS}, {OWNER_COLUMNS} FROM rooms r JOIN users u ON u.id = r.user_id
            WHERE r.id = ANY($1) AND r.deleted_at IS NULL""",
        room_ids,
    )
    return {int(r["id"]): dict(r) for r in rows}


async def search_rooms(conn: Conn, q: str, limit: int) -> list[dict[str, Any]]:
    """Rooms (open or closed) by id, name or owner id."""
    like = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = await conn.fetch(
        f"""SELECT {ROOM_COLUMNS}, {OWNER_COLUMNS} FROM rooms r JOIN users u ON u.id = r.user_id
            WHERE r.deleted_at IS NULL
              AND (r.id::text = $1 OR r.user_id::text = $1 OR r.name ILIKE '%' || $2 || '%')
            ORDER BY (r.id::text = $1) DESC, r.id DESC LIMIT $3""",
        q, like, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


def _decoded(raw: Any) -> Any:
    try:
        return _decoder.decode(raw)
    except msgspec.DecodeError:
        return None


async def live_members(redis: Redis, keys: Keys, room_id: int, limit: int = 500) -> list[dict[str, Any]]:
    """Who is in the room now: user id, sockets, the profile shown to the room, their seat (or None)."""
    room = keys.room(room_id)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hgetall(room.members)
        pipe.hgetall(room.seat_of)
        members, seat_of = await pipe.execute()
    user_ids = sorted(int(u) for u in members)[:limit]
    profiles = await redis.hmget(room.profiles, [str(u) for u in user_ids]) if user_ids else []
    seats = {int(u): int(i) for u, i in seat_of.items()}
    return [
        {"user_id": u, "sockets": int(members[str(u).encode()]), "profile": _decoded(p) if p else None,
         "seat": seats.get(u)}
        for u, p in zip(user_ids, profiles, strict=True)
    ]  # fmt: skip


async def live_seats(redis: Redis, keys: Keys, room_id: int) -> list[dict[str, Any]]:
    """Every seat of a live room, by index: occupant, muted, locked (an empty list when not live)."""
    room = keys.room(room_id)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hget(room.meta, "seat_count")
        pipe.hgetall(room.seats)
        pipe.smembers(room.locked)
        count, seats, locked = await pipe.execute()
    if count is None:
        return []
    taken = {int(i): _decoded(raw) for i, raw in seats.items()}
    locked_ids = {int(i) for i in locked}
    out = []
    for index in range(int(count)):
        seat = taken.get(index) or {}
        out.append({"index": index, "user_id": int(seat["u"]) if seat.get("u") else None,
                    "muted": bool(int(seat.get("m", 0) or 0)), "away": bool(int(seat.get("d", 0) or 0)),
                    "locked": index in locked_ids})  # fmt: skip
    return out
