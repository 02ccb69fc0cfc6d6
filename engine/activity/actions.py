"""Reading a user's activity and stats as a viewer may see them, and the retention that deletes
old activity.

Privacy: the user's `activity` setting (everyone / followers / friends / nobody) decides whether a
viewer sees their activity at all, and their stats too (the stats are that log summed: a user who
hides what they do hides its totals). A viewer it does not let in, and anyone in a block with the
user either way, gets the 404 of a missing user. Inside, what other settings hide stays hidden:
received gifts (the feed's rows and the stats' figure) need `received_gifts`, follows in the feed
need `following_list`, the followers trend needs `followers_list`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.activity import store
from engine.activity.model import followers_trend, item, trend_since, visible_kinds
from engine.db import RETENTION_BATCH, RETENTION_MAX_BATCHES, Conn, delete_in_batches
from engine.services import Services
from engine.social import store as social_store
from engine.social.follows import user_not_found, visible_user
from engine.social.model import Privacy, Relationship, allows, decode_cursor, page


async def _let_in(conn: Conn, viewer: int, user_id: int) -> tuple[Privacy, Relationship]:
    """The user's settings and the viewer's standing, if `activity` lets the viewer in (404 if not)."""
    _user, rel = await visible_user(conn, viewer, user_id)
    settings = await social_store.privacy(conn, user_id)
    if not allows(settings.activity, rel):
        raise user_not_found(user_id)
    return settings, rel


async def activity_page(svc: Services, viewer: int, user_id: int, kind: str | None, cursor: str | None,
                        limit: int) -> dict[str, Any]:  # fmt: skip
    (before,) = decode_cursor(cursor, int) or (None,)
    async with svc.pool.acquire() as conn:
        settings, rel = await _let_in(conn, viewer, user_id)
        kinds = visible_kinds(settings, rel, kind)
        rows = await store.page(conn, user_id, kinds, before, limit + 1, None if rel.is_self else viewer)
    items, next_cursor = page(rows, limit, lambda r: (r["id"],))
    return {"items": [item(r) for r in items], "next_cursor": next_cursor}


async def stats(svc: Services, viewer: int, user_id: int) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    async with svc.pool.acquire() as conn:
        settings, rel = await _let_in(conn, viewer, user_id)
        totals = await store.totals(conn, user_id)
        trend = None
        if allows(settings.followers_list, rel):
            followers = (await social_store.counts(conn, user_id))["followers_count"]
            trend = followers_trend(now, followers, await store.follows_by_week(conn, user_id, trend_since(now)))
    received = allows(settings.received_gifts, rel)
    return {
        "since": (now - dt.timedelta(days=svc.config.activity_retention_days)).date().isoformat(),
        "room_visits": totals["visits"], "rooms_visited": totals["rooms"],
        "minutes_in_rooms": totals["visit_ms"] // 60_000, "minutes_on_mic": totals["mic_ms"] // 60_000,
        "seconds_on_mic": totals["mic_ms"] // 1000,
        "gifts_sent": totals["gifts_sent"], "gifts_sent_coins": totals["sent_coins"],
        "gifts_received": totals["gifts_received"] if received else None,
        "gifts_received_coins": totals["received_coins"] if received else None,
        "followers_trend": trend,
    }  # fmt: skip


async def purge_old(svc: Services, *, batch: int = RETENTION_BATCH, max_batches: int = RETENTION_MAX_BATCHES) -> int:
    """Delete activity older than ACTIVITY_RETENTION_DAYS, a batch per transaction; how many went."""
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=svc.config.activity_retention_days)
    return await delete_in_batches(svc.pool, store.delete_older_than, cutoff, batch=batch, max_batches=max_batches)
