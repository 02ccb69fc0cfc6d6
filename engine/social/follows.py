"""The follow graph: follow and unfollow (idempotent), the lists, and suggestions.

An edge and the counts it changes are written in one transaction under the pair's lock
(engine/social/store.py), and so is the notification of a new follow; the pushes go out after the
commit, to the followed user's sockets on any engine process.
"""

from __future__ import annotations

import time
from typing import Any

from engine.accounts import store as accounts_store
from engine.activity import store as activity
from engine.db import Conn
from engine.errors import DomainError
from engine.notifications.model import Notice
from engine.services import Services
from engine.social import store
from engine.social.live import Social
from engine.social.model import Relationship, allows, card, decode_cursor, follow_deltas, page

SUGGESTION_WINDOW_MS = 7 * 86400 * 1000
MET_PER_ROOM = 50


def user_not_found(user_id: int) -> DomainError:
    """The answer for a missing user, a deleted one, and one hidden by a block alike (no oracle)."""
    return DomainError("not_found", f"No query results for model [User] {user_id}", status=404)


def cannot_target_self(action: str) -> DomainError:
    return DomainError(f"cannot_{action}_self", f"You cannot {action} yourself.", status=409)


async def visible_user(conn: Conn, viewer: int, user_id: int) -> tuple[dict[str, Any], Relationship]:
    """The user's row and how the viewer stands to them; 404 when missing or behind a block."""
    user = await accounts_store.get_user(conn, user_id)
    rel = await store.relationship(conn, viewer, user_id)
    if user is None or rel.blocked:
        raise user_not_found(user_id)
    return user, rel


async def _pair(conn: Conn, follower: int, target: int) -> tuple[dict[str, Any] | None, Relationship]:
    """The follower's card fields and their standing to the target; 404 when the target is missing
    or behind a block (as `visible_user`, in the one query the follow path can afford)."""
    me, found, rel = await store.pair_context(conn, follower, target)
    if not found or rel.blocked:
        raise user_not_found(target)
    return me, rel


def _state(user_id: int, rel: Relationship, followers_count: int) -> dict[str, Any]:
    return {"user_id": user_id, "following": rel.following, "followed_by": rel.followed_by, "friend": rel.friend,
            "followers_count": followers_count}  # fmt: skip


async def _check_rate(svc: Services, user_id: int) -> None:
    await svc.limiter.check("social", str(user_id), svc.config.social_rate_limit)


async def do_follow(social: Social, follower: int, target: int) -> dict[str, Any]:
    svc = social.svc
    if target == follower:
        raise cannot_target_self("follow")
    await _check_rate(svc, follower)
    async with svc.pool.acquire() as conn, conn.transaction():
        await store.lock_pair_txn(conn, follower, target)
        me, rel = await _pair(conn, follower, target)  # read under the lock: a block is seen
        if me is None:
            raise user_not_found(follower)
        created = await store.insert_follow_txn(conn, follower, target)
        stored = None
        followers = None
        if created:
            changed = await store.add_counts_txn(conn, follow_deltas(follower, target, mutual=rel.followed_by))
            followers = changed[target]
            await activity.record_follow_txn(conn, follower, target, followed=True)
            # A follow toggled again and again notifies once until it is read.
            notice = Notice(user_id=target, kind="follow", actor_id=follower, target_type="user",
                            target_id=str(follower), text=f"{me['name']} started following you.")  # fmt: skip
            stored = await social.notifications.record_txn(conn, notice, once_until_read=True)
        if followers is None:
            followers = (await store.counts(conn, target))["followers_count"]
    now = Relationship(following=True, followed_by=rel.followed_by)
    if created:
        await social.push(target, "user.followed", {
            "user_id": target, "followers_count": followers, "friend": now.friend,
            "follower": {"id": me["id"], "name": me["name"], "signature": me["signature"],
                         "avatar_image": me["avatar_image"]},
        })  # fmt: skip
        await social.notifications.push(stored)
    return _state(target, now, followers)


async def do_unfollow(social: Social, follower: int, target: int) -> dict[str, Any]:
    svc = social.svc
    if target == follower:
        raise cannot_target_self("follow")
    await _check_rate(svc, follower)
    async with svc.pool.acquire() as conn, conn.transaction():
        await store.lock_pair_txn(conn, follower, target)
        _me, rel = await _pair(conn, follower, target)
        removed = await store.delete_follow_txn(conn, follower, target)
        if removed:
            changed = await store.add_counts_txn(conn, follow_deltas(follower, target, mutual=rel.followed_by,
                                                                     sign=-1))  # fmt: skip
            followers = changed[target]
            await activity.record_follow_txn(conn, follower, target, followed=False)  # the followers trend
        else:
            followers = (await store.counts(conn, target))["followers_count"]
    if removed:
        await social.push(target, "user.unfollowed",
                          {"user_id": target, "follower_id": follower, "followers_count": followers})  # fmt: skip
        await social.rooms.unfollowed(follower, target)
    return _state(target, Relationship(following=False, followed_by=rel.followed_by), followers)


async def _listed(svc: Services, viewer: int, user_id: int, setting: str, cursor: str | None, limit: int,
                  read: Any) -> dict[str, Any]:  # fmt: skip
    """A page of one of the user's lists, if the user's `setting` lets the viewer see it (404 if not)."""
    (before,) = decode_cursor(cursor, int) or (None,)
    async with svc.pool.acquire() as conn:
        _user, rel = await visible_user(conn, viewer, user_id)
        if not allows(getattr(await store.privacy(conn, user_id), setting), rel):
            raise user_not_found(user_id)
        rows = await read(conn, viewer, user_id, before, limit + 1)
    items, next_cursor = page(rows, limit, lambda r: (r["edge_id"],))
    return {"items": [card(r) for r in items], "next_cursor": next_cursor}


async def followers(svc: Services, viewer: int, user_id: int, cursor: str | None, limit: int) -> dict[str, Any]:
    return await _listed(svc, viewer, user_id, "followers_list", cursor, limit, store.followers_page)


async def following(svc: Services, viewer: int, user_id: int, cursor: str | None, limit: int) -> dict[str, Any]:
    return await _listed(svc, viewer, user_id, "following_list", cursor, limit, store.following_page)


async def friends(svc: Services, user_id: int, cursor: str | None, limit: int) -> dict[str, Any]:
    (before,) = decode_cursor(cursor, int) or (None,)
    async with svc.pool.acquire() as conn:
        rows = await store.friends_page(conn, user_id, before, limit + 1)
    items, next_cursor = page(rows, limit, lambda r: (r["edge_id"],))
    return {"items": [card(r) for r in items], "next_cursor": next_cursor}


async def suggestions(svc: Services, user_id: int, cursor: str | None, limit: int) -> dict[str, Any]:
    """Friends of friends (most mutual friends first), then people met in the same rooms lately
    (most recent first); never the user, someone they follow, or anyone in a block with them.

    The cursor is a keyset position in one of the two stages — `(0, mutual, id)` or
    `(1, last seen ms, id)` — so a page never repeats one already shown while the graph changes."""
    stage, a, b = decode_cursor(cursor, int, int, int) or (0, 0, 0)
    found: list[dict[str, Any]] = []
    async with svc.pool.acquire() as conn:
        if stage == 0:
            rows = await store.friends_of_friends(conn, user_id, (a, b) if cursor else None, limit + 1)
            found += [{**r, "stage": 0, "key": int(r["mutual"])} for r in rows]
        if len(found) <= limit:
            since = int(time.time() * 1000) - SUGGESTION_WINDOW_MS
            met = await store.met_in_rooms(svc.redis, svc.keys, user_id, since, MET_PER_ROOM)
            if stage == 1:
                met = [(other, seen) for other, seen in met if seen < a or (seen == a and other > b)]
            seen_at = dict(met)  # at most MET_PER_ROOM from each of the rooms kept: a few hundred ids
            rows = await store.suggestible(conn, user_id, [other for other, _ in met]) if met else []
            found += [{**r, "stage": 1, "key": seen_at[r["id"]]} for r in rows[: limit + 1 - len(found)]]
    items, next_cursor = page(found, limit, lambda r: (r["stage"], r["key"], r["id"]))
    reasons = ("friends_of_friends", "met_in_room")
    return {
        "items": [{**card(r), "reason": reasons[r["stage"]], "mutual_friends": int(r["mutual"])} for r in items],
        "next_cursor": next_cursor,
    }
