"""Who someone is in a room: owner, room admin, member, or platform staff (rooms.moderate)."""

from __future__ import annotations

from typing import Any

from engine.rooms import store
from engine.rooms.cache import HotCache
from engine.rooms.model import Rank
from engine.services import Services


def _rank(row: dict[str, Any]) -> Rank:
    if row["is_staff"]:
        return Rank.STAFF
    if row["is_owner"]:
        return Rank.OWNER
    return Rank.ADMIN if row["is_admin"] else Rank.MEMBER


async def _cached_rank(cache: HotCache, room: dict[str, Any], user_id: int) -> Rank:
    if await cache.user(user_id) is None:
        return Rank.MEMBER
    row = {"is_staff": await cache.is_staff(user_id), "is_owner": room["user_id"] == user_id,
           "is_admin": user_id in await cache.admins(room["id"])}  # fmt: skip
    return _rank(row)


async def ranks_and_vip(cache: HotCache, room_id: int, actor_id: int, target_id: int) -> tuple[tuple[Rank, Rank], int]:
    """(actor's rank, target's rank) and the target's VIP level, for socket events: from the hot
    cache, which forgets a row when it changes (engine/rooms/cache.py).

    An unknown user counts as a member with VIP level 0 (the contract's fail-closed reading), and
    so does everyone in a room that does not exist.
    """
    room = await cache.room(room_id)
    target_user = await cache.user(target_id)
    if room is None:
        return (Rank.MEMBER, Rank.MEMBER), 0
    actor = await _cached_rank(cache, room, actor_id)
    target = actor if target_id == actor_id else await _cached_rank(cache, room, target_id)
    return (actor, target), target_user.vip_level if target_user is not None else 0


async def rank_of(svc: Services, room_id: int, user_id: int) -> Rank:
    """The user's rank read from PostgreSQL, for REST checks before a change (off the hot path)."""
    async with svc.pool.acquire() as conn:
        rows = await store.rank_rows(conn, room_id, [user_id])
    return _rank(rows[user_id]) if user_id in rows else Rank.MEMBER
