"""Who someone is in a room: owner, room admin, member, or platform staff (rooms.moderate)."""

from __future__ import annotations

from typing import Any

from engine.rooms import store
from engine.rooms.model import Rank
from engine.services import Services


def _rank(row: dict[str, Any]) -> Rank:
    if row["is_staff"]:
        return Rank.STAFF
    if row["is_owner"]:
        return Rank.OWNER
    return Rank.ADMIN if row["is_admin"] else Rank.MEMBER


async def ranks_and_vip(svc: Services, room_id: int, actor_id: int, target_id: int) -> tuple[tuple[Rank, Rank], int]:
    """(actor's rank, target's rank) and the target's VIP level, read in one query.

    An unknown user counts as a member with VIP level 0 (the contract's fail-closed reading).
    """
    async with svc.pool.acquire() as conn:
        rows = await store.rank_rows(conn, room_id, [actor_id, target_id])
    actor = _rank(rows[actor_id]) if actor_id in rows else Rank.MEMBER
    target = _rank(rows[target_id]) if target_id in rows else Rank.MEMBER
    vip = int(rows[target_id]["vip_level"]) if target_id in rows else 0
    return (actor, target), vip


async def rank_of(svc: Services, room_id: int, user_id: int) -> Rank:
    (rank, _), _vip = await ranks_and_vip(svc, room_id, user_id, user_id)
    return rank
