"""Everything rooms keep: PostgreSQL (rooms, room admins, bans, ranks) and each room's live state in
Redis. This is the one module that reads or writes a room's keys.

A room's live state (`Keys.room`: seats, members, invites, its event stream, …) sits under one hash
tag and changes only through the Lua scripts in `lua/`, one atomic step per action, each wrapped by
one typed method of `RoomState`; the reads other domains need (who is seated, the owner, a seat's
occupant) are methods beside them. Outside the room's slot: the user → room pointer, the live-rooms
popularity set, held seats, kick blocks, and each process's socket registry.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from engine.activity import store as activity_store
from engine.activity.model import Visit, visit_of
from engine.config import Rate
from engine.db import Conn
from engine.keys import Keys
from engine.lua import LuaScript, preload
from engine.ratelimit.store import BUCKET_PRELUDE
from engine.social import store as social_store

ROOM_COLUMNS = """r.id, r.user_id, r.theme_id, r.popularity_index, r.country, r.name, r.greetings, r.logo,
    r.can_tourists_speak, r.can_tourists_send_text, r.can_tourists_send_files, r.is_hidden, r.type,
    r.created_at, r.updated_at, r.deleted_at, r.description, r.category, r.region, r.tags, r.seat_count,
    r.announcement, r.is_closed, r.closed_at, r.password_hash, r.room_xp, r.room_level"""
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


_RANKS_SQL = """
SELECT u.id,
       r.user_id = u.id AS is_owner,
       EXISTS (SELECT 1 FROM room_admins a WHERE a.room_id = r.id AND a.user_id = u.id) AS is_admin,
       EXISTS (SELECT 1 FROM user_roles ur
               JOIN role_permissions rp ON rp.role_id = ur.role_id
               JOIN permissions p ON p.id = rp.permission_id
               WHERE ur.user_id = u.id AND p.name = 'rooms.moderate') AS is_staff,
       u.vip_level
FROM rooms r CROSS JOIN users u
WHERE r.id = $1 AND u.id = ANY($2::bigint[])
"""


async def active_bans(conn: Conn, room_id: int) -> dict[int, dict[str, Any]]:
    """The room's bans in force, by user: what `active_ban` reads, for the whole room at once."""
    rows = await conn.fetch(
        """SELECT user_id, id, expires_at, reason FROM room_bans
           WHERE room_id = $1 AND lifted_at IS NULL AND (expires_at IS NULL OR expires_at > now())""",
        room_id,
    )
    return {int(r["user_id"]): {"id": r["id"], "expires_at": r["expires_at"], "reason": r["reason"]} for r in rows}


async def platform_mute_until(conn: Conn, user_id: int) -> dt.datetime | None:
    """When the user's platform mute (no chat, no speaking in any room) ends; None: not muted."""
    value = await conn.fetchval("SELECT until FROM platform_mutes WHERE user_id = $1 AND until > now()", user_id)
    return value  # type: ignore[no-any-return]


async def set_platform_mute_txn(conn: Conn, user_id: int, until: dt.datetime, *, reason: str | None,
                                case_id: int | None, muted_by: int | None) -> None:  # fmt: skip
    """Mute the user until `until` (a later mute replaces an earlier one, whichever ends first)."""
    await conn.execute(
        """INSERT INTO platform_mutes (user_id, until, reason, case_id, muted_by) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (user_id) DO UPDATE SET until = excluded.until, reason = excluded.reason,
               case_id = excluded.case_id, muted_by = excluded.muted_by, created_at = now()""",
        user_id, until, reason, case_id, muted_by,
    )  # fmt: skip


async def lift_platform_mute_txn(conn: Conn, user_id: int, case_id: int | None = None) -> bool:
    """Lift the user's platform mute (only the one of `case_id`, when given); whether there was one."""
    status = await conn.execute(
        "DELETE FROM platform_mutes WHERE user_id = $1 AND ($2::bigint IS NULL OR case_id = $2)", user_id, case_id
    )
    return status != "DELETE 0"


async def is_staff(conn: Conn, user_id: int) -> bool:
    """Whether the user holds a platform role with `rooms.moderate` (the staff rank in every room)."""
    return bool(
        await conn.fetchval(
            """SELECT EXISTS (SELECT 1 FROM user_roles ur
                              JOIN role_permissions rp ON rp.role_id = ur.role_id
                              JOIN permissions p ON p.id = rp.permission_id
                              WHERE ur.user_id = $1 AND p.name = 'rooms.moderate')""",
            user_id,
        )
    )


async def live_counts(redis: Redis, keys: Keys, room_ids: list[int]) -> dict[int, int]:
    """Live member counts (from the popularity set), 0 for rooms nobody is in."""
    if not room_ids:
        return {}
    scores = await redis.zmscore(keys.live_rooms(), [str(r) for r in room_ids])
    return {room: int(score or 0) for room, score in zip(room_ids, scores, strict=True)}


async def most_popular(redis: Redis, keys: Keys, limit: int, offset: int) -> list[int]:
    members = await redis.zrevrange(keys.live_rooms(), offset, offset + limit - 1)
    return [int(m) for m in members]  # type: ignore[arg-type]  # members are bytes


async def rank_rows(conn: Conn, room_id: int, user_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Per user: is_owner, is_admin, is_staff (rooms.moderate) and vip_level, in one query."""
    return {int(r["id"]): dict(r) for r in await conn.fetch(_RANKS_SQL, room_id, user_ids)}


# --- Live state (Redis) ---------------------------------------------------------------------------

_LUA = Path(__file__).parent / "lua"
_PRELUDE = _LUA / "lib.lua"
SCRIPT_NAMES = (
    "room_close", "join", "leave", "chat", "seat_take", "seat_leave", "seat_assign",
    "seat_mute", "seat_lock", "seat_invite", "seat_invite_answer", "seat_count", "sweep_hold", "self_mute",
    "profile_update", "chat_delete", "chat_forget",
)  # fmt: skip
SCRIPTS = {name: LuaScript(_LUA / f"{name}.lua", _PRELUDE) for name in SCRIPT_NAMES}
# chat draws on the sender's per-room rate limit in the same step (its bucket is in the room's slot).
SCRIPTS["chat"] = LuaScript(_LUA / "chat.lua", BUCKET_PRELUDE, _PRELUDE)
COMPARE_DELETE = LuaScript(_LUA / "compare_delete.lua")
_decoder = msgspec.json.Decoder()


@dataclass(frozen=True, slots=True)
class RoomEvent:
    """One event a script recorded: `to` is "room", "others" or "user:<id>"; `body` is JSON text."""

    name: str
    to: str
    body: str


@dataclass(slots=True)
class ScriptResult:
    ok: bool
    code: str | None
    events: list[RoomEvent]
    data: dict[str, Any] = field(default_factory=dict)


def as_list(value: Any) -> list[Any]:
    """cjson encodes an empty Lua table as `{}`: read it as the empty list it stands for."""
    return value if isinstance(value, list) else []


def text(value: object) -> str:
    """A Redis reply as text (the client returns bytes)."""
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True, slots=True)
class Membership:
    """What a join or leave changes outside the room's slot."""

    instance_id: str
    sid: str | None
    room_id: int
    user_id: int


def seated_of(user_ids: list[int], indices: Any) -> set[int]:
    """The users of `user_ids` whose seat index (HMGET's reply, in their order) is set."""
    if isinstance(indices, Exception):
        raise indices
    return {u for u, index in zip(user_ids, indices, strict=True) if index is not None}


class RoomState:
    """A room's live state: one typed method per room script, and the reads beside them.

    Each script checks and writes in one step, stamps the events it caused with the room's next
    sequence number, appends them to the room's stream and returns them; callers emit them only
    after the script committed (engine/rooms/live.py).
    """

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._scripts = {name: script.bind(redis) for name, script in SCRIPTS.items()}
        self._compare_delete = COMPARE_DELETE.bind(redis)

    async def preload(self) -> None:
        await preload(self._redis, *SCRIPTS.values(), COMPARE_DELETE)

    async def _run(self, name: str, room_id: int, *args: str | int, extra_keys: tuple[str, ...] = ()) -> ScriptResult:
        raw = await self._scripts[name](keys=[*self._keys.room(room_id), *extra_keys], args=list(args))
        data = _decoder.decode(raw)
        events = [RoomEvent(*entry) for entry in as_list(data.pop("events", []))]
        return ScriptResult(bool(data.pop("ok")), data.pop("code", None), events, data)

    # Scripts, in the order a room lives through them.
    async def join(self, room_id: int, user_id: int, sid: str, profile_json: str, grace_ms: int,
                   last_seq: int | None, history: int, *, owner_id: int, seat_count: int) -> ScriptResult:  # fmt: skip
        """Make the room live if it is not (a live room keeps its state); add the socket; reclaim a
        held seat; the events missed since `last_seq`, or a snapshot."""
        last = -1 if last_seq is None else last_seq
        return await self._run("join", room_id, user_id, sid, profile_json, grace_ms, last, history, owner_id,
                               seat_count)  # fmt: skip

    async def leave(self, room_id: int, user_id: int, sid: str | None, mode: str) -> ScriptResult:
        """Take a socket (sid None: every socket of the user) out; mode leave | disconnect | kick."""
        return await self._run("leave", room_id, user_id, sid or "", mode)

    async def chat(
        self, room_id: int, user_id: int, message_json: str, history: int, rate: Rate | None = None
    ) -> ScriptResult:
        """RATE_LIMITED (with `retry_after_ms`) when the sender's bucket for the room is empty (no
        bucket without a `rate`); `data["subscribers"]`: the engine processes on the Socket.IO channel."""
        bucket = self._keys.room_chat_rate(room_id, user_id)
        capacity, period_ms = (rate.capacity, int(rate.period * 1000)) if rate else (0, 0)
        return await self._run("chat", room_id, user_id, message_json, history, capacity, period_ms,
                               self._keys.socketio_channel(), extra_keys=(bucket,))  # fmt: skip

    async def seat_take(self, room_id: int, user_id: int, index: int) -> ScriptResult:
        return await self._run("seat_take", room_id, user_id, index, 0)

    async def seat_leave(self, room_id: int, user_id: int, *, reason: str, actor_id: int) -> ScriptResult:
        """Off the seat: by themself (reason "") or removed by the owner (reason "removed")."""
        return await self._run("seat_leave", room_id, user_id, reason, actor_id)

    async def seat_assign(self, room_id: int, user_id: int, index: int) -> ScriptResult:
        return await self._run("seat_assign", room_id, user_id, index)

    async def seat_mute(self, room_id: int, user_id: int, muted: bool) -> ScriptResult:
        return await self._run("seat_mute", room_id, user_id, int(muted))

    async def self_mute(self, room_id: int, user_id: int, muted: bool, *, by_self: bool = True) -> ScriptResult:
        """The user's audio paused or resumed on their media node: by themselves, or by a platform
        mute (`by_self=False`), which leaves the seat free of a room moderator's mute."""
        return await self._run("self_mute", room_id, user_id, int(muted), int(by_self))

    async def seat_lock(self, room_id: int, index: int, lock: bool, expected_occupant: int | None) -> ScriptResult:
        """STATE_CHANGED when the seat's occupant is no longer the one the caller checked."""
        return await self._run("seat_lock", room_id, index, int(lock), expected_occupant or 0)

    async def seat_invite(self, room_id: int, inviter: int, target: int, index: int, ttl_ms: int) -> ScriptResult:
        return await self._run("seat_invite", room_id, inviter, target, index, ttl_ms)

    async def seat_invite_answer(self, room_id: int, user_id: int, index: int | None, accept: bool) -> ScriptResult:
        """index None: whichever invite is theirs."""
        return await self._run("seat_invite_answer", room_id, user_id, -1 if index is None else index, int(accept))

    async def seat_count(self, room_id: int, count: int) -> ScriptResult:
        """Shrinking evicts every occupant at or above the new count."""
        return await self._run("seat_count", room_id, count, str(room_id))

    async def sweep_hold(self, room_id: int, user_id: int, index: int, stamp: int) -> ScriptResult:
        """Free a seat held since a disconnect, if it is still exactly that hold."""
        return await self._run("sweep_hold", room_id, user_id, index, stamp)

    async def profile_update(self, room_id: int, user_id: int, profile_json: str, changed_json: str) -> ScriptResult:
        """A member's new profile, kept for snapshots, and `user:profile_updated` with what changed."""
        return await self._run("profile_update", room_id, user_id, profile_json, changed_json)

    async def chat_delete(self, room_id: int, message_id: str) -> ScriptResult:
        """Take a message out of the room's history and record `chat:deleted`; `data["message"]`:
        the message's JSON as it was (MESSAGE_NOT_FOUND once the history no longer holds it)."""
        return await self._run("chat_delete", room_id, message_id, str(room_id))

    async def chat_forget(self, room_id: int, user_id: int) -> int:
        """Take every message of the user out of the room's history and replay stream (a GDPR
        purge); how many entries went."""
        return int((await self._run("chat_forget", room_id, user_id)).data["gone"])

    async def close(self, room_id: int, reason: str) -> ScriptResult:
        """End the live state (all but the sequence number); returns the members it had."""
        return await self._run("room_close", room_id, str(room_id), reason)

    # Reads.
    async def is_live(self, room_id: int) -> bool:
        return bool(await self._redis.exists(self._keys.room(room_id).meta))

    async def member_count(self, room_id: int) -> int:
        return int(await self._redis.hlen(self._keys.room(room_id).members))

    async def profile(self, room_id: int, user_id: int) -> Any:
        """The profile a member shows to others in the room (decoded), or None."""
        raw = await self._redis.hget(self._keys.room(room_id).profiles, str(user_id))
        return _decoder.decode(raw) if raw else None

    async def chat_message(self, room_id: int, message_id: str) -> dict[str, Any] | None:
        """A message of the room's recent history (as `chat:message` sent it), by its id, or None."""
        for raw in await self._redis.lrange(self._keys.room(room_id).chat, 0, -1):
            message = _decoder.decode(raw)
            if isinstance(message, dict) and message.get("id") == message_id:
                return message
        return None

    async def occupant(self, room_id: int, index: int) -> int | None:
        raw = await self._redis.hget(self._keys.room(room_id).seats, str(index))
        return int(_decoder.decode(raw)["u"]) if raw else None

    async def is_member(self, room_id: int, user_id: int) -> bool:
        """Whether the user has a socket in the room (on any instance)."""
        return bool(await self._redis.hexists(self._keys.room(room_id).members, str(user_id)))

    async def is_seated(self, room_id: int, user_id: int) -> bool:
        return bool(await self._redis.hexists(self._keys.room(room_id).seat_of, str(user_id)))

    def queue_seated(self, pipe: Pipeline, room_id: int, user_ids: list[int]) -> None:
        """Which of the users (at least one) hold a seat in the room — a seat held for a reconnect
        counts — read on the caller's pipeline; `seated_of` reads its reply."""
        pipe.hmget(self._keys.room(room_id).seat_of, [str(u) for u in user_ids])

    async def seat_of(self, room_id: int, user_id: int) -> dict[str, Any] | None:
        """The seat the user holds in the room (`{u, m: muted, d: disconnected at, t: on mic since}`), or None."""
        keys = self._keys.room(room_id)
        index = await self._redis.hget(keys.seat_of, str(user_id))
        raw = await self._redis.hget(keys.seats, index) if index is not None else None
        seat: dict[str, Any] | None = _decoder.decode(raw) if raw is not None else None
        return seat

    async def oldest_event_id(self, room_id: int) -> str | None:
        """The id of the oldest event the room's capped stream still holds."""
        entries = await self._redis.xrange(self._keys.room(room_id).events, count=1)
        return text(entries[0][0]) if entries else None

    # Outside the room's slot: kick blocks, the user -> room pointer, popularity, held seats.
    async def block(self, room_id: int, user_id: int, by: int, seconds: int) -> None:
        await self._redis.set(self._keys.room_block(room_id, user_id), by, ex=seconds)

    async def block_ttl(self, room_id: int, user_id: int) -> int | None:
        """Seconds left on a kick block; None when not blocked."""
        ttl = int(await self._redis.ttl(self._keys.room_block(room_id, user_id)))
        return ttl if ttl > 0 else None

    async def lift_block(self, room_id: int, user_id: int) -> bool:
        return bool(await self._redis.delete(self._keys.room_block(room_id, user_id)))

    async def room_of(self, user_id: int) -> int | None:
        """The room the user is in, fleet-wide."""
        raw = await self._redis.get(self._keys.user_room(user_id))
        return int(raw) if raw else None

    async def record_join(self, m: Membership, members: int) -> None:
        """Bookkeeping outside the room's slot: user -> room, this process's sockets, popularity."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(self._keys.user_room(m.user_id), m.room_id, ex=86400)
            pipe.hset(self._keys.instance_sockets(m.instance_id), m.sid or "", f"{m.user_id}:{m.room_id}")
            pipe.zadd(self._keys.live_rooms(), {str(m.room_id): members})
            social_store.queue_visit(pipe, self._keys, m.user_id, m.room_id, int(time.time() * 1000))  # suggestions
            await pipe.execute()

    async def record_leave(self, m: Membership, result: ScriptResult, grace_ms: int) -> None:
        """What a leave script's result means outside the slot: popularity, the seat hold, the pointer."""
        left = bool(result.data.get("left"))
        async with self._redis.pipeline(transaction=False) as pipe:
            if m.sid and result.data.get("sids"):
                # Still connected (or about to be removed by the disconnect hook), no longer in a room.
                pipe.hset(self._keys.instance_sockets(m.instance_id), m.sid, f"{m.user_id}:0")
            if left:
                # The visit's activity row is written later, off this path (engine/activity/worker.py).
                if (visit := visit_of(m.user_id, m.room_id, result.data.get("visit"))) is not None:
                    activity_store.queue_visit(pipe, self._keys, visit)
                members = int(result.data.get("members", 0))
                if members > 0:
                    pipe.zadd(self._keys.live_rooms(), {str(m.room_id): members})
                else:
                    pipe.zrem(self._keys.live_rooms(), str(m.room_id))
                held = int(result.data.get("held", -1))
                if held >= 0:
                    held_at = int(result.data["held_at"])
                    pipe.zadd(
                        self._keys.seat_holds(), {f"{m.room_id}:{m.user_id}:{held}:{held_at}": held_at + grace_ms}
                    )
            await pipe.execute()
        if left:
            await self.forget_room_of(m.user_id, m.room_id)

    async def forget_room_of(self, user_id: int, room_id: int) -> None:
        # Only clear the pointer if it still names this room (the user may have joined another).
        await self._compare_delete(keys=[self._keys.user_room(user_id)], args=[str(room_id)])

    async def record_close(self, room_id: int, members: list[int], visits: Any = None) -> None:
        """`visits`: the close script's `[user, joined, left, mic]` of every member's ended visit."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zrem(self._keys.live_rooms(), str(room_id))
            for user_id, joined, left, mic in as_list(visits):
                activity_store.queue_visit(pipe, self._keys, Visit(int(user_id), room_id, joined, left, mic))
            await pipe.execute()
        for member in members:
            await self.forget_room_of(member, room_id)

    async def due_holds(self, now_ms: int, limit: int) -> list[tuple[int, int, int, int]]:
        """Seats held past their grace: (room, user, index, disconnect stamp)."""
        due = await self._redis.zrangebyscore(self._keys.seat_holds(), "-inf", now_ms, start=0, num=limit)
        holds = []
        for raw in due:
            room_id, user_id, index, stamp = text(raw).split(":")
            holds.append((int(room_id), int(user_id), int(index), int(stamp)))
        return holds

    async def drop_hold(self, room_id: int, user_id: int, index: int, stamp: int) -> None:
        await self._redis.zrem(self._keys.seat_holds(), f"{room_id}:{user_id}:{index}:{stamp}")


# --- Presence and the engine processes' socket registry (Redis) ---------------------------------


def _socket_member(instance_id: str, sid: str) -> str:
    return f"{instance_id}:{sid}"


async def add_socket(redis: Redis, keys: Keys, instance_id: str, sid: str, user_id: int) -> int:
    """Record a user's new socket (fleet-wide set and this process's registry); their socket count."""
    key = keys.user_sockets(user_id)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.sadd(key, _socket_member(instance_id, sid))
        pipe.expire(key, 86400)
        pipe.scard(key)
        pipe.hset(keys.instance_sockets(instance_id), sid, f"{user_id}:0")
        _added, _ttl, count, _set = await pipe.execute()
    return int(count)


async def remove_socket(redis: Redis, keys: Keys, instance_id: str, sid: str, user_id: int) -> int | None:
    """Forget a socket; the user's remaining socket count, or None when it was already gone."""
    key = keys.user_sockets(user_id)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.srem(key, _socket_member(instance_id, sid))
        pipe.scard(key)
        pipe.hdel(keys.instance_sockets(instance_id), sid)
        removed, count, _ = await pipe.execute()
    return int(count) if int(removed) else None


async def online(redis: Redis, keys: Keys, user_ids: list[int]) -> dict[int, bool]:
    async with redis.pipeline(transaction=False) as pipe:
        for user_id in user_ids:
            pipe.scard(keys.user_sockets(user_id))
        counts = await pipe.execute()
    return {uid: int(n) > 0 for uid, n in zip(user_ids, counts, strict=True)}


async def heartbeat(redis: Redis, keys: Keys, instance_id: str, now_ms: int) -> bool:
    """Score this process alive; True when it was not listed (its first beat, or it was reaped)."""
    return bool(await redis.zadd(keys.instances(), {instance_id: now_ms}))


async def live_instances(redis: Redis, keys: Keys, since_ms: int) -> list[str]:
    """Engine processes that reported alive since `since_ms`."""
    return [text(raw) for raw in await redis.zrangebyscore(keys.instances(), since_ms, "+inf")]


REAPING_CLAIM_SECONDS = 60  # a reaper that died mid-reap leaves it to another after this


def _reaping_claim(keys: Keys, dead: str) -> str:
    return f"{keys.instances()}:reaping:{dead}"


async def claim_dead_instances(redis: Redis, keys: Keys, me: str, cutoff_ms: int) -> list[str]:
    """Processes silent since `cutoff_ms` that this one claimed to clean up (SET NX: one claimant)."""
    claimed = []
    for raw in await redis.zrangebyscore(keys.instances(), "-inf", cutoff_ms):
        dead = text(raw)
        if dead != me and await redis.set(_reaping_claim(keys, dead), me, nx=True, ex=REAPING_CLAIM_SECONDS):
            claimed.append(dead)
    return claimed


async def renew_reaping_claim(redis: Redis, keys: Keys, me: str, dead: str) -> None:
    """Keep the claim while the reap runs (a big process takes longer than the claim lasts)."""
    await redis.set(_reaping_claim(keys, dead), me, xx=True, ex=REAPING_CLAIM_SECONDS)


async def instance_sockets(redis: Redis, keys: Keys, instance_id: str) -> list[tuple[str, int, int]]:
    """A process's sockets: (sid, user, room or 0)."""
    sockets = []
    for raw_sid, raw_value in (await redis.hgetall(keys.instance_sockets(instance_id))).items():
        user_text, _, room_text = text(raw_value).partition(":")
        sockets.append((text(raw_sid), int(user_text), int(room_text or 0)))
    return sockets


async def forget_instance(redis: Redis, keys: Keys, instance_id: str) -> None:
    await redis.delete(keys.instance_sockets(instance_id))
    await redis.zrem(keys.instances(), instance_id)


async def user_sockets(redis: Redis, keys: Keys, user_id: int) -> list[str]:
    """Every socket id of the user, fleet-wide (from the presence set)."""
    return [text(member).partition(":")[2] for member in await redis.smembers(keys.user_sockets(user_id))]


async def rooms_of_user(redis: Redis, keys: Keys, user_id: int) -> set[int]:
    """Every room a socket of the user is in, fleet-wide (each process's socket registry)."""
    by_instance: dict[str, list[str]] = {}
    for member in await redis.smembers(keys.user_sockets(user_id)):
        instance, _, sid = text(member).partition(":")
        by_instance.setdefault(instance, []).append(sid)
    rooms: set[int] = set()
    for instance, sids in by_instance.items():
        for value in await redis.hmget(keys.instance_sockets(instance), sids):
            room = text(value).partition(":")[2] if value is not None else "0"
            if room not in ("", "0"):
                rooms.add(int(room))
    return rooms


async def equipped_badges(conn: Conn, user_id: int) -> list[dict[str, Any]]:
    """The badges the user wears (sql/0030), in order, as room profiles show them; read with the
    profile when the hot cache loads it (its NOTIFY trigger forgets the user when they change)."""
    rows = await conn.fetch(
        """SELECT e.position AS slot_position, b.id AS badge_id, b.icon_url AS image_url, b.code, b.name, b.rarity
           FROM user_equipped_badges e JOIN badges b ON b.id = e.badge_id
           WHERE e.user_id = $1 AND b.is_active ORDER BY e.position""",
        user_id,
    )
    return [dict(r) for r in rows]
