"""Gift catalog (PostgreSQL, cached briefly in-process), agency membership (PostgreSQL), the send's
rate limit and seat check in one pipeline, and combos (Redis)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import asyncpg
from redis.asyncio import Redis

from engine.config import Rate
from engine.db import Conn
from engine.economy.store import settings as economy_settings
from engine.keys import Keys
from engine.lua import LuaScript
from engine.ratelimit.store import RateLimiter, Verdict
from engine.rooms.store import RoomState, seated_of

COMBO = LuaScript(Path(__file__).parent / "lua" / "combo.lua")
GIFT_COLUMNS = """id, name, category, price, static_src, animated_src, animated_file_type, animation_duration,
    sound_src, rarity, vip_level_required, country, starts_at, ends_at, is_active"""
_CACHE_SECONDS = 10.0


class Catalog:
    """Gifts and economy settings, re-read from PostgreSQL at most every few seconds."""

    def __init__(self) -> None:
        self._gifts: dict[int, dict[str, Any]] = {}
        self._settings: dict[str, int] = {}
        self._loaded_at = 0.0
        self._reloading = asyncio.Lock()

    def _fresh(self) -> bool:
        return time.monotonic() - self._loaded_at < _CACHE_SECONDS

    async def refresh_if_stale(self, pool: asyncpg.Pool[asyncpg.Record]) -> None:
        """Re-read the catalog when the cache has expired, borrowing a connection only then; sends
        that find it stale at once wait for one reload instead of each running their own."""
        if self._fresh():
            return
        async with self._reloading:
            if not self._fresh():
                async with pool.acquire() as conn:
                    await self._load(conn)

    async def _load(self, conn: Conn) -> None:
        rows = await conn.fetch(f"SELECT {GIFT_COLUMNS} FROM gifts WHERE deleted_at IS NULL")
        self._gifts = {int(r["id"]): dict(r) for r in rows}
        self._settings = await economy_settings(conn)
        self._loaded_at = time.monotonic()

    def gift(self, gift_id: int) -> dict[str, Any] | None:
        return self._gifts.get(gift_id)

    @property
    def settings(self) -> dict[str, int]:
        return self._settings


async def list_gifts(
    conn: Conn, *, category: str | None, max_price: int | None, include_inactive: bool
) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"""SELECT {GIFT_COLUMNS} FROM gifts
            WHERE deleted_at IS NULL AND ($1::text IS NULL OR category = $1)
              AND ($2::bigint IS NULL OR price <= $2)
              AND ($3 OR (is_active AND (starts_at IS NULL OR starts_at <= now())
                                     AND (ends_at IS NULL OR ends_at > now())))
            ORDER BY category, price, id""",
        category, max_price, include_inactive,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def agency_of(conn: Conn, user_id: int) -> int | None:
    """The agency the user is an active member of (of an active agency), or None."""
    value = await conn.fetchval(
        """SELECT m.agency_id FROM agency_members m JOIN agencies a ON a.id = m.agency_id
           WHERE m.user_id = $1 AND m.left_at IS NULL AND a.status = 'active'""",
        user_id,
    )
    return int(value) if value is not None else None


async def limit_and_seated(redis: Redis, limiter: RateLimiter, state: RoomState, sender: int, rate: Rate,
                           room_id: int, user_ids: list[int]) -> tuple[Verdict, set[int]]:  # fmt: skip
    """The sender's gift rate limit and which of `user_ids` are seated in the room: one round trip."""
    async with redis.pipeline(transaction=False) as pipe:
        limiter.queue_hit(pipe, "gift", str(sender), rate)
        if user_ids:
            state.queue_seated(pipe, room_id, user_ids)
        replies = await pipe.execute(raise_on_error=False)
    verdict = await limiter.verdict_of(replies[0], "gift", str(sender), rate)
    return verdict, seated_of(user_ids, replies[1]) if user_ids else set()


async def count_combo(redis: Redis, keys: Keys, room_id: int, sender: int, part: str, window_ms: int,
                      quantity: int, new_id: str) -> tuple[str, int, int, int]:  # fmt: skip
    """(combo id, count, sends, the engine processes subscribed to the Socket.IO channel)."""
    combo_id, count, sends, subscribers = await COMBO.bind(redis)(
        keys=[keys.gift_combo(room_id, sender, part)], args=[window_ms, quantity, new_id, keys.socketio_channel()]
    )
    combo = combo_id.decode() if isinstance(combo_id, bytes) else str(combo_id)
    return combo, int(count), int(sends), int(subscribers)
