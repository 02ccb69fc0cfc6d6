"""Blocks: a block works both ways and cuts every path between the two users.

Stored, it removes the follows in both directions (with their counts) and what each was notified
of by the other in the same transaction, under the pair's lock, so no follow can slip in beside it.
After the commit the rooms are told (`SocialRooms.blocked`): the blocked user leaves the blocker's
own room and their presence subscriptions to each other end. The socket hot path (room:join,
gift:send, seat invites, presence, user:getRoom) reads blocks from the hot cache
(engine/rooms/cache.py), which the table's triggers keep fresh on every engine process; REST reads
them from PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from engine.accounts import store as accounts_store
from engine.activity import store as activity
from engine.notifications import store as notifications
from engine.services import Services
from engine.social import store
from engine.social.follows import cannot_target_self, user_not_found
from engine.social.live import Social
from engine.social.model import card, decode_cursor, follow_deltas, merge_deltas, page


async def do_block(social: Social, blocker: int, target: int, reason: str | None) -> dict[str, Any]:
    """Block `target` (idempotent). Blocking someone who blocked you works too: it says nothing
    about them."""
    svc = social.svc
    if target == blocker:
        raise cannot_target_self("block")
    await svc.limiter.check("social", str(blocker), svc.config.social_rate_limit)
    async with svc.pool.acquire() as conn, conn.transaction():
        await store.lock_pair_txn(conn, blocker, target)
        if await accounts_store.get_user(conn, target) is None:
            raise user_not_found(target)
        created = await store.insert_block_txn(conn, blocker, target, reason)
        mine = await store.delete_follow_txn(conn, blocker, target)
        theirs = await store.delete_follow_txn(conn, target, blocker)
        # Removed one after the other: the first one removed ends the friendship, if there was one.
        deltas = merge_deltas(
            follow_deltas(blocker, target, mutual=theirs, sign=-1) if mine else {},
            follow_deltas(target, blocker, mutual=False, sign=-1) if theirs else {},
        )
        await store.add_counts_txn(conn, deltas)
        # The follows a block removed count as unfollows in each one's followers trend.
        for follower, followed, removed in ((blocker, target, mine), (target, blocker, theirs)):
            if removed:
                await activity.record_follow_txn(conn, follower, followed, followed=False)
        if created:
            await notifications.delete_between_txn(conn, blocker, target)
    if created:
        await social.rooms.blocked(blocker, target)
    return {"user_id": target, "blocked": True}


async def do_unblock(svc: Services, blocker: int, target: int) -> dict[str, Any]:
    """Lift a block (idempotent). The follows it removed stay removed."""
    if target == blocker:
        raise cannot_target_self("block")
    await svc.limiter.check("social", str(blocker), svc.config.social_rate_limit)
    async with svc.pool.acquire() as conn, conn.transaction():
        await store.lock_pair_txn(conn, blocker, target)
        await store.delete_block_txn(conn, blocker, target)
    return {"user_id": target, "blocked": False}


async def blocks(svc: Services, user_id: int, cursor: str | None, limit: int) -> dict[str, Any]:
    """Whom the user blocked, newest first."""
    (before,) = decode_cursor(cursor, int) or (None,)
    async with svc.pool.acquire() as conn:
        rows = await store.blocks_page(conn, user_id, before, limit + 1)
    items, next_cursor = page(rows, limit, lambda r: (r["edge_id"],))
    return {"items": [{**card(r), "reason": r["reason"]} for r in items], "next_cursor": next_cursor}


async def check_no_block(svc: Services, user_id: int, other: int) -> None:
    """Refuse (as a missing user) anything between two users when either blocked the other; for
    paths off the socket hot path, e.g. direct messages."""
    async with svc.pool.acquire() as conn:
        if (await store.relationship(conn, user_id, other)).blocked:
            raise user_not_found(other)
